"""Editor (UI) workflows to API format and back, the way the official frontend does it."""

from .to_api import api_to_ui, as_schema, check_ui, number_widget_value, ui_to_api

__all__ = ["api_to_ui", "as_schema", "check_ui", "number_widget_value", "ui_to_api"]
