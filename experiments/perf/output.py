"""Where a benchmark's result goes: printed, and written to --out when given (the file
experiments/perf/results/ keeps)."""


def emit(lines: list[str], out: str | None) -> str:
  """Prints the result table (lines joined) and writes it to `out` when set; returns it."""
  text = "\n".join(lines) + "\n"
  print(text)
  if out:
    with open(out, "w") as f:
      f.write(text)
  return text
