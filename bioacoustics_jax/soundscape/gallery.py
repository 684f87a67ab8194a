"""The discovery page: one self-contained HTML file (images and audio inlined as data: URIs).

What it shows, top to bottom: what the store is (model, window and hop, windows, hours); a 2-D
map of the windows (UMAP on a stated sample, discover.py), coloured by cluster; a table of the
clusters (size, share, recordings); then per cluster a strip of where in time its windows fall
(window starts across the recordings) and in which recordings, and a gallery of its windows
nearest the centre, each a spectrogram thumbnail (PNG) with a playable snippet (WAV) of exactly
the audio the model saw, its recording, times and label (when a table beside the recording
gives one). No script, no external file: it works from a
file:// URL, offline.
"""

from __future__ import annotations

import base64
import collections
import html
import io
import os

import numpy as np
import soundfile as sf
from scipy import signal

from bioacoustics_jax.soundscape import windows as windows_lib

_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf")
_STYLE = """body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1300px;
padding:0 1.5em 3em;color:#1b1b1b}h2{border-bottom:1px solid #ddd;margin-top:1.6em}
table{border-collapse:collapse}td,th{border:1px solid #d6d6d6;padding:2px 7px;text-align:right}
td.t,th.t{text-align:left}.gallery{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:0;width:200px}figcaption{font-size:.8em;color:#444}audio{width:200px}
.note{color:#555;max-width:70em}"""


def colour(c: int) -> str:
  return _COLOURS[c % len(_COLOURS)]


def _uri(data: bytes, mime: str) -> str:
  return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def spectrogram_png(audio: np.ndarray, rate: int) -> bytes:
  """A log-magnitude spectrogram thumbnail (low frequencies at the bottom) as PNG bytes."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  _, _, z = signal.stft(audio, fs=rate, nperseg=256, noverlap=192)
  db = 20 * np.log10(np.abs(z) + 1e-6)
  buffer = io.BytesIO()
  plt.imsave(buffer, db, cmap="magma", origin="lower", vmin=db.max() - 80, vmax=db.max(),
             format="png")
  return buffer.getvalue()


def wav_bytes(audio: np.ndarray, rate: int) -> bytes:
  buffer = io.BytesIO()
  sf.write(buffer, np.clip(audio, -1, 1), rate, format="WAV", subtype="PCM_16")
  return buffer.getvalue()


def _example(store, roots, recording: str, start: float, end: float, label: str) -> str:
  settings = store.settings
  caption = f"{html.escape(recording)} {start:.2f}-{end:.2f} s"
  if label:
    caption += f" <b>{html.escape(label)}</b>"
  path = os.path.join(roots.get(recording, ""), recording)
  if not os.path.isfile(path):
    return (f"<figure><figcaption>{caption}<br>audio not found at {html.escape(path)} "
            "(give --audio_root)</figcaption></figure>")
  spec = windows_lib.WindowSpec(settings["window_seconds"], settings["hop_seconds"],
                                settings["input_rate"])
  recording_info = windows_lib.describe(path, recording)
  (_, _, audio), = windows_lib.stream_windows(recording_info, spec, channel=settings["channel"],
                                              span=(start, start + spec.window_seconds))
  clip = audio[0, :int(round((end - start) * spec.sample_rate))]
  png = _uri(spectrogram_png(clip, spec.sample_rate), "image/png")
  wav = _uri(wav_bytes(clip, spec.sample_rate), "audio/wav")
  return (f'<figure><img src="{png}" width="200" height="100" alt="spectrogram {caption}">'
          f'<audio controls preload="none" src="{wav}"></audio>'
          f"<figcaption>{caption}</figcaption></figure>")


def _scatter(coords: np.ndarray, labels: np.ndarray, how: str, size: int = 460,
             limit: int = 4000) -> str:
  """The 2-D map as inline SVG (at most `limit` points, an even sample)."""
  keep = np.linspace(0, len(coords) - 1, min(limit, len(coords))).astype(int)
  lo, hi = coords.min(0), coords.max(0)
  span = np.where(hi > lo, hi - lo, 1.0)
  xy = 10 + (coords[keep] - lo) / span * (size - 20)
  dots = "".join(f'<circle cx="{x:.1f}" cy="{size - y:.1f}" r="2.5" fill="{colour(int(c))}"/>'
                 for (x, y), c in zip(xy, labels[keep]))
  return (f'<svg role="img" aria-label="windows by cluster: {html.escape(how)}" '
          f'width="{size}" height="{size}" style="border:1px solid #ddd">{dots}</svg>'
          f'<div class="note">{len(keep)} of {len(coords)} windows drawn (an even sample); '
          f'coordinates: {html.escape(how)}.</div>')


def _time_strip(starts: np.ndarray, longest: float, c: int, bins: int = 48) -> str:
  """Where in their recordings a cluster's windows start: a histogram as inline SVG."""
  counts, _ = np.histogram(starts, bins=bins, range=(0, max(longest, 1e-9)))
  top = max(int(counts.max()), 1)
  bars = "".join(f'<rect x="{i * 8}" y="{40 - 38 * n / top:.1f}" width="7" '
                 f'height="{38 * n / top:.1f}" fill="{colour(c)}"/>' for i, n in enumerate(counts))
  return (f'<svg role="img" aria-label="window starts over time" width="{bins * 8}" '
          f'height="42" style="border-bottom:1px solid #999">{bars}</svg>'
          f'<div class="note">0 to {longest:.1f} s into the recordings</div>')


def page(store, found, roots: dict[str, str]) -> str:
  rows, labels = found.rows, found.cluster
  settings = store.settings
  hours = sum(r["seconds"] for r in store.recordings.values()) / 3600
  longest = max(r["seconds"] for r in store.recordings.values())
  k = len(found.examples)
  parts = [f"<h1>Soundscape clusters</h1><p class=note>{html.escape(store.path)}: "
           f"{len(labels)} windows of {settings['window_seconds']} s (hop "
           f"{settings['hop_seconds']} s) from {len(store.recordings)} recordings ({hours:.2f} h), "
           f"model {html.escape(settings['backbone']['model'])} at {settings['input_rate']} Hz, "
           f"{k} k-means clusters of the windows' principal components.</p>",
           "<h2>Map</h2>", _scatter(found.coords, labels, found.map_method),
           "<h2>Clusters</h2><table><thead><tr><th>cluster</th><th>windows</th><th>share</th>"
           "<th>recordings</th><th class=t>most windows in</th><th class=t>labels (from "
           "tables beside the audio)</th></tr></thead><tbody>"]
  for c in range(k):
    members = labels == c
    per_recording = collections.Counter(rows["recording"][members].tolist())
    top = ", ".join(f"{html.escape(r)} ({n})" for r, n in per_recording.most_common(3))
    labelled = collections.Counter(x for x in rows["label"][members].tolist() if x)
    tags = ", ".join(f"{html.escape(x)} ({n})" for x, n in labelled.most_common(3))
    parts.append(f'<tr><td><a href="#c{c}" style="color:{colour(c)}">c{c}</a></td>'
                 f"<td>{int(members.sum())}</td><td>{members.mean():.1%}</td>"
                 f"<td>{len(per_recording)}</td><td class=t>{top}</td>"
                 f"<td class=t>{tags}</td></tr>")
  parts.append("</tbody></table>")
  for c in range(k):
    members = labels == c
    per_recording = collections.Counter(rows["recording"][members].tolist())
    parts.append(f'<h2 id="c{c}" style="color:{colour(c)}">Cluster c{c}: {int(members.sum())} '
                 f"windows in {len(per_recording)} recordings</h2>")
    parts.append(_time_strip(rows["start"][members], longest, c))
    parts.append("<table><thead><tr><th class=t>recording</th><th>windows</th></tr></thead>"
                 "<tbody>" + "".join(f"<tr><td class=t>{html.escape(r)}</td><td>{n}</td></tr>"
                                     for r, n in sorted(per_recording.items())) +
                 "</tbody></table><div class=gallery>")
    for i in found.examples[c]:
      parts.append(_example(store, roots, str(rows["recording"][i]), float(rows["start"][i]),
                            float(rows["end"][i]), str(rows["label"][i])))
    parts.append("</div>")
  return ("<!DOCTYPE html><html><head><meta charset=utf-8><title>Soundscape clusters</title>"
          f"<style>{_STYLE}</style></head><body>" + "\n".join(parts) + "</body></html>")
