"""Benchmark harness: our chat server side by side with a python-socketio peer.

`python -m bench` (or `bench/run.sh`) starts each server as a real process and
drives it from separate generator processes; see BENCHMARKS.md for the figures.
"""
