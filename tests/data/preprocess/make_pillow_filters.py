#!/usr/bin/env python3
"""Writes pillow_filters.safetensors: Pillow's Image.resize for every resampling filter.

Run with Pillow 9.4.0 (Debian 12: apt-get install python3-pil python3-numpy):
    python3 make_pillow_filters.py
Tensors (uint8, HWC RGB):
    input/a [17, 23, 3], input/b [3, 5, 3]      the inputs (a has hard edges: overshoot and clipping)
    <input>/<filter>/<W>x<H> [H, W, 3]            Image.fromarray(input).resize((W, H), filter)
filter: 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic, 4 box, 5 hamming (PIL.Image.Resampling).
"""
import json
import struct

import numpy as np
import PIL
from PIL import Image

h, w = 17, 23
yy, xx = np.mgrid[0:h, 0:w]
a = np.stack([(xx * 37 + yy * 11) % 256, np.where((xx // 4 + yy // 3) % 2 == 0, 250, 5), (xx * yy * 13) % 256], -1)
a = a.astype(np.uint8)
b = np.arange(5 * 3 * 3, dtype=np.int64).reshape(3, 5, 3) * 37 % 256
b = b.astype(np.uint8)
inputs = {"a": a, "b": b}
targets = {"a": [(9, 31), (40, 5), (23, 11), (11, 17), (64, 48), (1, 1)], "b": [(13, 7), (2, 2), (5, 1)]}

tensors = {"input/a": a, "input/b": b}
for name, img in inputs.items():
    for f in range(6):
        for (W, H) in targets[name]:
            tensors[f"{name}/{f}/{W}x{H}"] = np.asarray(Image.fromarray(img).resize((W, H), f))

header, blobs, offset = {"__metadata__": {"pillow": PIL.__version__}}, [], 0
for key, t in tensors.items():
    data = np.ascontiguousarray(t).tobytes()
    header[key] = {"dtype": "U8", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
    blobs.append(data)
    offset += len(data)
hj = json.dumps(header, separators=(",", ":")).encode()
hj += b" " * (-len(hj) % 8)
with open("pillow_filters.safetensors", "wb") as out:
    out.write(struct.pack("<Q", len(hj)) + hj + b"".join(blobs))
print(len(tensors), "tensors,", 8 + len(hj) + offset, "bytes")
