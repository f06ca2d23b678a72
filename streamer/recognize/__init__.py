"""The recognise flow: detect → track → gate/schedule → crop → classify → fuse → match → alert policy → sink."""
