"""Soundscapes: unlabelled archives of long recordings, embedded, searched and clustered.

  python -m launch.embed --config=experiments/configs/archive.py:root=PATH,model=rn18 --workdir=W
  store.Store.open(W).load_arrays()   # recording, start, end, embedding, label
  python -m launch.search --store=W --query=clip.wav@12.5-15.5 --k=50
  python -m launch.discover --store=W

windows.py streams a recording into the model's windows; embedder.py is the model over every
device; archive.py the resumable, multi-host job; store.py the sharded store (npz + manifest,
readable without this package); labels.py labels from tables beside the audio; search.py
exact search by example; discover.py + gallery.py clusters, Raven tables and the listening
page; planted.py synthetic archives with known calls.
This room sits above embed/, zoo/, parallel/ and audio/ and imports nothing above them.
"""
