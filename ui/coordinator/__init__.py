"""Coordinator (HQ) mode: merge, stations, conflicts, comparison, keys, report, forensics."""
