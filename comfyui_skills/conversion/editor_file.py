"""The editor workflow file's pieces both converters read and write: a link, and the ids of a
subgraph's input and output nodes."""

from collections import namedtuple

IO_INPUT, IO_OUTPUT = -10, -20  # ids of a subgraph's input and output nodes inside it

Link = namedtuple("Link", "id origin_id origin_slot target_id target_slot type")
