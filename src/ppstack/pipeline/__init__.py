"""Batch pipeline: stage -> close -> insert -> sync, driven by a batch ledger."""
