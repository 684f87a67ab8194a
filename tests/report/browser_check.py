"""Loads a report.html in headless Chromium and says what rendered: images, tables, sorting, hover.

The last step of the report's data flow, for tests and CI (and by hand:
`python -m tests.report.browser_check W/report.html [--screenshot=out.png]`). A probe
script is put first in a copy of the page's <head>, so it records every error the page's own
script raises; after `load` it checks every image decoded, clicks a header of each sortable
table twice, moves the pointer onto a scatter point, has every <audio> load its metadata (its
duration, or the media error), and writes its findings into the DOM, which
`chromium --dump-dom` returns. No WebDriver or DevTools client is needed: only the Debian
`chromium` package (`.ci/run` installs it when absent).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")

_PROBE = r"""<script>
window.__probeErrors = [];
window.addEventListener("error", function (e) { __probeErrors.push(String(e.message || e)); });
window.addEventListener("unhandledrejection", function (e) {
  __probeErrors.push(String(e.reason));
});
(function () {
  var original = console.error;
  console.error = function () {
    __probeErrors.push(Array.prototype.join.call(arguments, " "));
    return original.apply(console, arguments);
  };
})();
window.addEventListener("load", function () {
  var out = {tables: {}, errors: __probeErrors};
  var images = Array.prototype.slice.call(document.images);
  out.images = images.length;
  out.broken = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                     .map(function (i) { return i.alt; });
  out.external = Array.prototype.slice.call(document.querySelectorAll("[src],[href]"))
      .map(function (e) { return e.getAttribute("src") || e.getAttribute("href"); })
      .filter(function (u) { return /^(https?:)?\/\//.test(u); });
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
    var col = heads.findIndex(function (h) { return /^NMI/.test(h.textContent.trim()); });
    if (col < 0) col = heads.length - 1;  // a numeric column: NMI, else the last one
    function column() {
      return Array.prototype.map.call(table.tBodies[0].rows, function (r) {
        var c = r.cells[col];
        return c.hasAttribute("data-v") ? parseFloat(c.getAttribute("data-v")) : c.textContent;
      });
    }
    heads[col].click();
    var ascending = column(), firstState = heads[col].getAttribute("aria-sort");
    heads[col].click();
    out.tables[table.id] = {rows: table.tBodies[0].rows.length, header: heads[col].textContent,
                            ascending: ascending, descending: column(),
                            states: [firstState, heads[col].getAttribute("aria-sort")]};
  });
  var img = document.querySelector("img.scatter");
  if (img) {
    var cell = JSON.parse(document.getElementById("cell-data").textContent)[img.dataset.cell];
    var box = img.getBoundingClientRect();
    var i = cell.x.length - 1;
    img.dispatchEvent(new MouseEvent("mousemove", {bubbles: true,
        clientX: box.left + cell.x[i] * box.width, clientY: box.top + cell.y[i] * box.height}));
    var tip = document.getElementById("tip");
    var shown = (tip.textContent.match(/^clip: (.*)$/m) || [null, null])[1];
    var j = cell.id.indexOf(shown);
    out.hover = {text: tip.textContent, hidden: tip.hidden, scatters:
                 document.querySelectorAll("img.scatter").length,
                 same_place: j >= 0 && Math.abs(cell.x[j] - cell.x[i]) * box.width < 1 &&
                             Math.abs(cell.y[j] - cell.y[i]) * box.height < 1};
  }
  function finish() {
    var pre = document.createElement("pre");
    pre.id = "probe-result";
    pre.textContent = JSON.stringify(out);
    document.body.appendChild(pre);
  }
  // every <audio> asked for its metadata: the browser decoded its header (or says why not)
  var players = Array.prototype.slice.call(document.querySelectorAll("audio"));
  out.audio = players.length;
  if (!players.length) return finish();
  Promise.all(players.map(function (a) {
    return new Promise(function (done) {
      a.addEventListener("loadedmetadata", function () { done({duration: a.duration}); });
      a.addEventListener("error", function () {
        done({error: a.error ? a.error.code + " " + a.error.message : "error"});
      });
      a.preload = "metadata";
      a.load();
    });
  })).then(function (found) { out.players = found; finish(); });
});
</script>"""


def find_chromium() -> str | None:
  for name in CHROMIUM_NAMES:
    path = shutil.which(name)
    if path:
      return path
  return None


def _chromium(args: list[str], timeout: float) -> subprocess.CompletedProcess:
  binary = find_chromium()
  if binary is None:
    raise FileNotFoundError("No Chromium found (tried " + ", ".join(CHROMIUM_NAMES) + "); on "
                            "Debian: apt-get install -y chromium (.ci/run does this in CI).")
  # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  base = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--no-first-run", "--hide-scrollbars", "--window-size=1400,1000",
          "--virtual-time-budget=15000"]
  return subprocess.run(base + args, capture_output=True, text=True, timeout=timeout)


def check(report_html: str, screenshot: str | None = None, timeout: float = 120.0
          ) -> dict[str, Any]:
  """What the probe found in `report_html` (see the module docstring); raises if it never ran."""
  with open(report_html) as f:
    page = f.read()
  with tempfile.TemporaryDirectory() as tmp:
    probed = os.path.join(tmp, "probed.html")
    with open(probed, "w") as f:
      f.write(page.replace("<head>", "<head>\n" + _PROBE, 1))
    profile = os.path.join(tmp, "profile")  # a fresh profile: nothing cached between runs
    done = _chromium([f"--user-data-dir={profile}", "--dump-dom", f"file://{probed}"], timeout)
    found = re.search(r'<pre id="probe-result">(.*?)</pre>', done.stdout, re.S)
    if not found:
      raise RuntimeError(f"The probe never reported (exit {done.returncode}); Chromium said:\n"
                         + done.stderr[-3000:])
    result = json.loads(found.group(1).replace("&lt;", "<").replace("&gt;", ">")
                        .replace("&quot;", '"').replace("&amp;", "&"))
    if screenshot:
      shot = _chromium([f"--user-data-dir={profile}", "--window-size=1400,2600",
                        f"--screenshot={os.path.abspath(screenshot)}",
                        f"file://{os.path.abspath(report_html)}"], timeout)
      if not os.path.exists(screenshot):
        raise RuntimeError(f"No screenshot written (exit {shot.returncode}): {shot.stderr[-2000:]}")
  return result


def problems(found: dict[str, Any]) -> list[str]:
  """What is wrong with a page `check` rendered: [] when a person would see it work."""
  out = [f"script error: {e}" for e in found.get("errors", [])]
  out += [f"image did not load: {alt}" for alt in found.get("broken", [])]
  out += [f"reaches the network: {url}" for url in found.get("external", [])]
  if not found.get("images"):
    out.append("no images")
  if not found.get("tables"):
    out.append("no sortable tables")
  for name, table in found.get("tables", {}).items():
    up = [-math.inf if v is None else v for v in table["ascending"]]  # JSON null = -Infinity
    down = [-math.inf if v is None else v for v in table["descending"]]
    if up != sorted(up, key=_sort_key) or down != sorted(down, key=_sort_key, reverse=True):
      out.append(f"table {name} does not sort on {table['header']!r}: {up} / {down}")
    if table["states"] != ["ascending", "descending"]:
      out.append(f"table {name} header states {table['states']}")
  hover = found.get("hover")
  if hover is None:
    out.append("no scatter to hover")
  elif hover["hidden"] or not hover["same_place"] or "file: " not in hover["text"]:
    out.append(f"hovering a point does not name it: {hover}")
  return out


def _sort_key(value):
  return (0, value) if isinstance(value, (int, float)) else (1, str(value))


def main(argv: list[str]) -> int:
  if not argv or argv[0].startswith("-"):
    print(__doc__)
    return 2
  shot = next((a.split("=", 1)[1] for a in argv[1:] if a.startswith("--screenshot=")), None)
  found = check(argv[0], screenshot=shot)
  wrong = problems(found)
  print("\n".join(wrong) or f"OK: {found['images']} images, {len(found['tables'])} sortable "
        f"tables, hover: {found['hover']['text']!r}")
  return 1 if wrong else 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
