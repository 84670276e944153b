"""The label sizes and printer model by name: what the config and the command line accept,
without loading an imaging library (rig.labels.layout holds the sizes' dots)."""

SIZE_NAMES = ("62x29", "62")  # brother_ql's names: die-cut 62x29 mm, continuous 62 mm
DEFAULT_SIZE = "62x29"
DEFAULT_MODEL = "QL-820NWB"
