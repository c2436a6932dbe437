"""Make docs/images/demo.png: the demo avatar (the built-in synthetic head, no third-party data)
under a few expressions and cameras, side by side.

    OMP_NUM_THREADS=2 avatar demo --out /tmp/demo
    python docs/images/make_demo.py /tmp/demo docs/images/demo.png
"""

import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

import avatar
from avatar.splat import Camera
from avatar.splat.framing import FRAMING_FOV_Y_DEG, framing_distance, head_target

SIZE = 240  # pixels of each render (square); the sheet keeps the middle 72% of its width


def main(demo: str, out: str) -> None:
    me = avatar.load(f"{demo}/model.avatar")
    capture = f"{demo}/capture"
    params = np.load(f"{capture}/params.npz")
    score = np.abs(params["expr"]).sum(1) + 5 * np.abs(params["jaw"]).sum(1)
    motion = np.concatenate([params["expr"], 5 * params["jaw"], params["rotation"]], 1)
    held_out = range(150, len(score))  # the demo's default split: 150 training, 30 held-out time steps
    a = max(held_out, key=lambda i: score[i])  # the most expressive held-out frame
    b = max(held_out, key=lambda i: np.abs(motion[i] - motion[a]).sum() + 0.5 * score[i])  # and one unlike it
    centre, extent = head_target(me.rig)
    distance = framing_distance(extent, FRAMING_FOV_Y_DEG)

    def camera(yaw: float) -> Camera:
        return Camera.orbit(yaw, 5.0, distance, centre, SIZE, SIZE, FRAMING_FOV_Y_DEG)

    shots = [("neutral", me.render(size=SIZE)),
             ("training frame", me.render(capture, frame=72, size=SIZE)),
             ("training frame", me.render(capture, frame=24, size=SIZE)),
             ("held-out frame", me.render(capture, frame=a, size=SIZE)),
             ("held-out frame", me.render(capture, frame=b, size=SIZE)),
             ("held-out, camera +35°", me.render(capture, frame=b, camera=camera(35.0), size=SIZE)),
             ("held-out, camera −30°", me.render(capture, frame=a, camera=camera(-30.0), size=SIZE))]
    width, caption = int(SIZE * 0.72), 22
    x0 = (SIZE - width) // 2
    sheet = Image.new("RGB", (width * len(shots), SIZE + caption), "white")
    draw = ImageDraw.Draw(sheet)
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", 13)
    except OSError:
        font = ImageFont.load_default()
    for i, (name, image) in enumerate(shots):
        pixels = (image.clamp(0, 1).cpu().numpy() * 255).round().astype("uint8")
        sheet.paste(Image.fromarray(pixels).crop((x0, 0, x0 + width, SIZE)), (i * width, 0))
        draw.text((i * width + (width - draw.textlength(name, font=font)) / 2, SIZE + 3), name,
                  fill=(60, 60, 60), font=font)
    sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, optimize=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
