#!/usr/bin/env python3
"""Draws the web app's PNG icons (web/icons/) from web/icon.svg, with Python alone.

    python3 scripts/make-icons.py

The installable app (web/manifest.webmanifest) needs PNG icons of 192 and 512 px, "any" ones
shaped like icon.svg and "maskable" ones whose picture stays inside the safe zone (the middle
circle of 80 % of the width) over a full-bleed background; iOS wants an opaque 180 px
apple-touch-icon. No image tool is needed: icon.svg is only rects and circles, each drawn with
its signed distance for smooth edges, and the PNGs are written with zlib and struct. The output
is the same bytes every run, so regenerating changes nothing unless icon.svg changed.
"""

import math
import struct
import sys
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "web" / "icon.svg"
OUT = ROOT / "web" / "icons"

# Maskable icons: the picture scaled into the safe zone (its far corner is 0.42 of the width
# from the centre; 0.8 brings it to 0.34, under the 0.40 radius platforms may keep).
MASKABLE_SCALE = 0.8


def color(text):
    text = text.lstrip("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    if len(text) != 6:
        sys.exit(f"make-icons: unsupported colour #{text} in {SVG}")
    return tuple(int(text[i:i + 2], 16) / 255 for i in (0, 2, 4))


def shapes_of(svg_path):
    """The drawing as (kind, numbers, rgb) in painting order, and the viewBox size."""
    root = ET.parse(svg_path).getroot()
    _, _, width, height = (float(v) for v in root.get("viewBox").split())
    if width != height:
        sys.exit("make-icons: icon.svg must be square")
    shapes = []
    for el in root:
        tag = el.tag.split("}")[-1]
        num = lambda name, default=None: float(el.get(name, default))
        if tag == "rect":
            rx = num("rx", 0)
            shapes.append(("rect", (num("x", 0), num("y", 0), num("width"), num("height"), rx), color(el.get("fill"))))
        elif tag == "circle":
            shapes.append(("circle", (num("cx"), num("cy"), num("r")), color(el.get("fill"))))
        else:
            sys.exit(f"make-icons: icon.svg has a <{tag}>; this script draws only rect and circle")
    return width, shapes


def distance(kind, v, x, y):
    """Signed distance from (x, y) to the shape's edge, negative inside (in viewBox units)."""
    if kind == "circle":
        cx, cy, r = v
        return math.hypot(x - cx, y - cy) - r
    rx0, ry0, w, h, r = v
    r = min(r, w / 2, h / 2)
    # A rounded rectangle: the distance to a rectangle shrunk by r, less r.
    qx = abs(x - (rx0 + w / 2)) - (w / 2 - r)
    qy = abs(y - (ry0 + h / 2)) - (h / 2 - r)
    outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
    return outside + min(max(qx, qy), 0.0) - r


def render(size, width, shapes, maskable):
    """RGBA rows (bytes) of the icon at `size` px."""
    unit = width / size  # viewBox units per pixel
    centre = width / 2
    background = shapes[0][2]
    rows = []
    for py in range(size):
        row = bytearray([0])  # PNG filter type 0 (none)
        for px in range(size):
            x = (px + 0.5) * unit
            y = (py + 0.5) * unit
            if maskable:
                # Full bleed: the first shape's colour everywhere, the rest scaled inward.
                r, g, b, a = background[0], background[1], background[2], 1.0
                x = centre + (x - centre) / MASKABLE_SCALE
                y = centre + (y - centre) / MASKABLE_SCALE
                pixel = unit / MASKABLE_SCALE
                drawn = shapes[1:]
            else:
                r = g = b = a = 0.0
                pixel = unit
                drawn = shapes
            for kind, v, (sr, sg, sb) in drawn:
                # Coverage of this pixel by the shape, from the distance to its edge.
                cover = min(max(0.5 - distance(kind, v, x, y) / pixel, 0.0), 1.0)
                if cover <= 0:
                    continue
                # "Over", premultiplied.
                r = sr * cover + r * (1 - cover)
                g = sg * cover + g * (1 - cover)
                b = sb * cover + b * (1 - cover)
                a = cover + a * (1 - cover)
            if a > 0:
                row += bytes(round(c / a * 255) for c in (r, g, b)) + bytes([round(a * 255)])
            else:
                row += b"\0\0\0\0"
        rows.append(bytes(row))
    return rows


def png(size, rows, opaque):
    """PNG bytes: RGBA, or RGB when `opaque` (iOS shows transparency as black)."""
    if opaque:
        rows = [bytes([0]) + bytes(b for i, b in enumerate(row[1:]) if i % 4 != 3) for row in rows]

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2 if opaque else 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))


def main():
    width, shapes = shapes_of(SVG)
    OUT.mkdir(parents=True, exist_ok=True)
    icons = [
        ("icon-192.png", 192, False),
        ("icon-512.png", 512, False),
        ("maskable-192.png", 192, True),
        ("maskable-512.png", 512, True),
        ("apple-touch-icon.png", 180, True),
    ]
    for name, size, maskable in icons:
        data = png(size, render(size, width, shapes, maskable), opaque=maskable)
        (OUT / name).write_bytes(data)
        print(f"{OUT.relative_to(ROOT) / name}: {size}x{size}, {len(data)} bytes")


if __name__ == "__main__":
    main()
