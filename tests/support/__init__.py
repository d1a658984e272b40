"""What the tests stand on, apart from the tests: the ComfyUI test double (double.py, double_v2.py)
and the recorders that capture a real server for it (record*.py, browser*.py), the procedures live
tests share (genlive.py, recipelive.py), a loopback file server, model files, the docs' commands.

The tests folder is on sys.path under pytest, so tests import `support.double` and so on; a recorder
run as a script puts that folder on the path itself.
"""
