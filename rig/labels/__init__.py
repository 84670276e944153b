"""A label for every verified unit: what it is, that it was reset, and a QR code of its
certificate.

- `content`: what a label says (`LabelData`), taken from the records' unit (`label_for_job`).
- `layout`: the label drawn at a label printer's dots (Brother QL 62 mm: die-cut 62x29 or
  continuous), as PNG and PDF; the QR code by segno.
- `printers`: to a Brother QL over the network (raw TCP 9100, brother-ql-next's raster) or to
  any CUPS printer (`lp`).

The package imports none of them itself: `rig --help` loads no imaging library.
"""
