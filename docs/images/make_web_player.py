"""Make docs/images/web_player.png: the web player (`avatar export --web`) in headless Chromium,
with the demo avatar (the built-in synthetic head) playing a Live Link recording and the
controls open.

    OMP_NUM_THREADS=2 avatar demo --out /tmp/demo
    avatar export /tmp/demo/model.avatar --web /tmp/demo_web --expr ../shared/data/expressions/livelink_happy.csv
    python docs/images/make_web_player.py /tmp/demo_web docs/images/web_player.png
"""

import sys
import time
from pathlib import Path

from PIL import Image

from avatar.web.headless import browser, find_chromium, served


def main(folder: str, out: str) -> None:
    with browser(find_chromium()) as b, served(Path(folder)) as url:
        page = b.new_page(viewport={"width": 960, "height": 600})
        page.goto(f"{url}index.html?size=512&seq=livelink_happy")
        page.wait_for_function("window.avatarPlayer && window.avatarPlayer.ready", timeout=120_000)
        page.click("#toggle")
        page.evaluate("window.avatarPlayer.seek(1530)")
        time.sleep(8)  # long enough for the counter to show the frame rate
        page.screenshot(path=out)
    image = Image.open(out).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, optimize=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
