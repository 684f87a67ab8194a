"""report.html fits the screen: loaded in headless Chromium at 1,280 and 1,920 px, the page
never scrolls sideways, everything wider than the window scrolls inside its own box, and every
dataset of the scatter grid is on screen (rows wrap). Also: fine-tuning curves found in the
training key's folder (train/<dataset>/<model>/<key>/lr_<value>/) name their learning rates by
value and read the sweep.json beside them."""

import json
import os
import re
import tempfile

import pytest

from tests.report import browser_check
from bioacoustics_jax.report.html import document as html
from tests.report import test_html as built  # the synthetic workdir builders of the html tests

# Measures, after load: the page's scroll width against the window, and every element whose
# right edge passes the window without a scrolling ancestor that itself fits.
_PROBE = r"""<script>
window.addEventListener("load", function () {
  var width = document.documentElement.clientWidth;
  function scrolls(el) {
    var x = getComputedStyle(el).overflowX;
    return x === "auto" || x === "scroll";
  }
  var outside = [];
  document.body.querySelectorAll("*").forEach(function (el) {
    var box = el.getBoundingClientRect();
    if (el.id === "tip" || box.width === 0 || box.right <= width + 0.5) return;
    for (var up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (scrolls(up) && up.getBoundingClientRect().right <= width + 0.5) return;
    }
    outside.push(el.tagName.toLowerCase() + "." + el.className + "#" + el.id + " right " +
                 Math.round(box.right));
  });
  var cells = Array.prototype.map.call(document.querySelectorAll(".grid-cell"), function (c) {
    return Math.round(c.getBoundingClientRect().right);
  });
  var scrolling = Array.prototype.filter.call(document.querySelectorAll("table"), function (t) {
    return t.scrollWidth > t.clientWidth;
  }).map(function (t) { return t.id; });
  var pre = document.createElement("pre");
  pre.id = "layout-result";
  pre.textContent = JSON.stringify({width: width, page: document.documentElement.scrollWidth,
                                    outside: outside, cells: cells, scrolling: scrolling});
  document.body.appendChild(pre);
});
</script>"""


def _train_logs_under_a_key(workdir):
  """train/finetune.py's layout: one folder per training key, lr_<value> inside, sweep.json
  beside them."""
  base = os.path.join(workdir, "train", "birds", "rn18", "65eaff2193b62d0e")
  for lr in ("0.001", "0.0001"):
    os.makedirs(os.path.join(base, f"lr_{lr}"))
    with open(os.path.join(base, f"lr_{lr}", "metrics.jsonl"), "w") as f:
      for epoch in range(3):
        f.write(json.dumps({"kind": "valid", "step": 4 * epoch + 4, "epoch": epoch,
                            "accuracy": 0.2 + 0.1 * epoch}) + "\n")
  with open(os.path.join(base, "sweep.json"), "w") as f:
    json.dump({"selected_learning_rate": 0.001, "runs": [
        {"learning_rate": 0.001, "metric": "accuracy", "best": 0.4, "best_epoch": 2},
        {"learning_rate": 0.0001, "metric": "accuracy", "best": 0.3, "best_epoch": 1}]}, f)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
  """Three datasets, one model (three 230 px panels a cell: the row is ~2,200 px wide)."""
  workdir = str(tmp_path_factory.mktemp("report_layout"))
  for dataset in ("birds", "frogs_detection", "hainan_gibbons_with_a_long_name"):
    built._cell(workdir, dataset, "frozen", 60, ["a", "b", "c", "d"], 1.0)  # pylint: disable=protected-access
  _train_logs_under_a_key(workdir)
  return html.write_html(workdir, max_points=60)


def _layout(path, width):
  with open(path) as f:
    text = f.read()
  with tempfile.TemporaryDirectory() as tmp:
    probed = os.path.join(tmp, "probed.html")
    with open(probed, "w") as f:
      f.write(text.replace("<head>", "<head>\n" + _PROBE, 1))
    done = browser_check._chromium(  # pylint: disable=protected-access
        [f"--user-data-dir={tmp}/profile", f"--window-size={width},1000", "--dump-dom",
         f"file://{probed}"], timeout=120)
  found = re.search(r'<pre id="layout-result">(.*?)</pre>', done.stdout, re.S)
  assert found, done.stderr[-2000:]
  return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


@pytest.mark.parametrize("width", [1280, 1920])
def test_nothing_runs_off_the_right_edge(page, width, chromium):  # pylint: disable=unused-argument
  found = _layout(page, width)
  assert found["width"] == width
  assert found["page"] <= width and found["outside"] == [], found
  assert len(found["cells"]) == 3 and max(found["cells"]) <= width  # every dataset on screen
  if width == 1280:
    assert "scores-table" in found["scrolling"]  # too wide here: it scrolls inside its box


def test_curves_name_learning_rates_by_value_and_find_their_sweep(page):
  text = open(page).read()
  assert "birds / rn18 / 65eaff2193b62d0e: selected lr 0.001, best epoch 2" in text
  assert "lines: lr 0.0001, lr 0.001" in text and "lr_" not in text
  assert "unfinished" not in text
