"""The fixed parts of report.html: its skeleton, style sheet and script, inlined into every page.

report/html/document.py fills `PAGE` (a string.Template) with sections; the script makes every
`table.sortable` sort on a header click (numbers by `data-v`, n/a as -Infinity) and shows a clip's
id, label, cluster and file when the pointer is over a point of an `img.scatter`. Point positions
come precomputed as fractions of the image (report/html/figures.py), so the browser needs no
plotting library and the page works offline, from a file:// URL, and inside a mail attachment.
"""

from __future__ import annotations

import string

# Responsive: the page never scrolls sideways at any window width (tests/report measure it at
# 1,280 and 1,920 px in headless Chromium). Text keeps a readable measure; a table wider than
# the window scrolls inside its own box (its header row stays in view); the scatter grid wraps
# a row's datasets onto the next line, and a panel shrinks to fit a narrow window.
STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       padding: 0 1.5em 3em; color: #1b1b1b; }
h1, h2, h3, h4, p, nav, dl, ul { max-width: 90em; }
h1 { font-size: 1.6em; margin: 0.8em 0 0.2em; }
h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
h3 { margin: 1.2em 0 0.4em; }
.note { color: #555; max-width: 70em; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-variant-numeric: tabular-nums;
        display: block; max-width: 100%; width: max-content; overflow: auto; }
table.sortable { max-height: 85vh; }
th, td { border: 1px solid #d6d6d6; padding: 2px 7px; text-align: right; white-space: nowrap; }
th { background: #f3f3f3; position: sticky; top: 0; }
td.t, th.t { text-align: left; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th::after { content: " \\2195"; color: #aaa; }
table.sortable th[aria-sort=ascending]::after { content: " \\2191"; color: #000; }
table.sortable th[aria-sort=descending]::after { content: " \\2193"; color: #000; }
td.best { font-weight: bold; background: #e6f4e6; }
td.up { color: #106b10; } td.down { color: #a31515; }
.ci { color: #777; font-size: 0.85em; }
.grid-row h4 { margin: 1em 0 0.3em; }
.grid-cells { display: flex; flex-wrap: wrap; gap: 0.8em 1.4em; align-items: flex-start; }
.grid-cell { max-width: 100%; min-width: 0; }
.grid-cell .where { font-weight: 600; margin-bottom: 2px; }
.cell { display: flex; flex-wrap: wrap; gap: 2px; }
.cell figure { margin: 0; min-width: 0; }
figure { max-width: 100%; }
img { max-width: 100%; height: auto; }
.cell figcaption { font-size: 0.8em; color: #444; }
img.scatter { display: block; cursor: crosshair; }
.legend { font-size: 0.78em; max-width: 700px; white-space: normal; }
.legend span { display: inline-block; margin-right: 0.7em; }
.legend i { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.25em;
            vertical-align: -0.1em; border-radius: 50%; }
#tip { position: fixed; pointer-events: none; background: rgba(25, 25, 25, 0.92); color: #fff;
       padding: 4px 7px; border-radius: 4px; font-size: 12px; white-space: pre; z-index: 10; }
pre.config { background: #f7f7f7; padding: 0.6em; max-height: 24em; overflow: auto;
             font-size: 12px; max-width: 100%; }
dd { margin-left: 1.5em; min-width: 0; }
details { margin: 0.4em 0; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  function cellValue(row, col) {
    var cell = row.cells[col];
    var text = cell.hasAttribute("data-v") ? cell.getAttribute("data-v") : cell.textContent;
    var number = parseFloat(text);
    return isNaN(number) ? text.trim().toLowerCase() : number;
  }
  function sortTable(table, col, th) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) {
      h.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    rows.sort(function (a, b) {
      var x = cellValue(a, col), y = cellValue(b, col), order;
      if (typeof x === "number" && typeof y === "number") order = x - y;
      else order = String(x).localeCompare(String(y));
      return ascending ? order : -order;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.addEventListener("click", function () { sortTable(table, col, th); });
    });
  });

  var data = JSON.parse(document.getElementById("cell-data").textContent);
  var tip = document.getElementById("tip");
  function nearest(cell, img, event) {
    var box = img.getBoundingClientRect();
    var best = -1, bestDistance = 100;  // within 10 px
    for (var i = 0; i < cell.x.length; i++) {
      var dx = (cell.x[i] * box.width) - (event.clientX - box.left);
      var dy = (cell.y[i] * box.height) - (event.clientY - box.top);
      var d = dx * dx + dy * dy;
      if (d < bestDistance) { bestDistance = d; best = i; }
    }
    return best;
  }
  document.querySelectorAll("img.scatter").forEach(function (img) {
    var cell = data[img.getAttribute("data-cell")];
    var panel = img.getAttribute("data-panel");
    img.addEventListener("mousemove", function (event) {
      var i = nearest(cell, img, event);
      if (i < 0) { tip.hidden = true; return; }
      var id = cell.id[i];
      var lines = ["clip: " + id, "label: " + cell.names[cell.label[i]]];
      Object.keys(cell.clusters).forEach(function (name) {
        lines.push("cluster (" + name + "): " + cell.clusters[name][i] +
                   (name === panel ? "  <- this panel" : ""));
      });
      lines.push("file: " + cell.root + id.split("@")[0]);
      tip.textContent = lines.join("\n");
      tip.hidden = false;
      tip.style.left = (event.clientX + 14) + "px";
      tip.style.top = (event.clientY + 14) + "px";
    });
    img.addEventListener("mouseleave", function () { tip.hidden = true; });
  });
})();
"""

PAGE = string.Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>$style</style>
</head>
<body>
<h1>$title</h1>
<p class="note">$subtitle</p>
<nav>$nav</nav>
$body
<div id="tip" hidden></div>
<script type="application/json" id="cell-data">$cell_data</script>
<script>$script</script>
</body>
</html>
""")
