"""Zone outlines shipped with skyfence (package data, read by :func:`streams.zones.builtin_zone`).

- ``zkkp_fir.geojson``: the Pyongyang FIR (ZKKP), one feature cut unchanged from the VATSpy Data
  Project's ``Boundaries.geojson``; CC BY-SA 4.0, see ``LICENSE-zkkp.txt`` (that file alone is
  under CC BY-SA 4.0; this package's code is Apache-2.0 like the rest of skyfence).
"""
