"""The shipped paper reference with the edits the paper-report tests look for: rn18's dcase NMI
removed (shown n/a, never 0), a row naming no zoo model (`npy_resnet9000`) and, when asked, a
dataset column naming no BEANS dataset (`hainan_gibons`, a typo of hainan-gibbons)."""

from bioacoustics_jax.report.paper_grid import document as paper_grid


def edited_reference(tmp_path, unknown_dataset_column: bool = False) -> str:
  lines = open(paper_grid.PAPER_SCORES).read().splitlines()
  header = lines[0].split(",")
  col = header.index("dcase")
  for i, line in enumerate(lines):
    cells = line.split(",")
    if cells[:4] == ["50", "0.5", "npy_rn18", "NMI"]:
      cells[col] = ""
      lines[i] = ",".join(cells)
  lines.append("50,0.5,npy_resnet9000,NMI," + ",".join(["0.5"] * (len(header) - 4)))
  if unknown_dataset_column:
    lines = [lines[0] + ",hainan_gibons"] + [line + ",0.1" for line in lines[1:]]
  path = tmp_path / "reference.csv"
  path.write_text("\n".join(lines) + "\n")
  return str(path)
