"""The HTML report of a find run, and the alignments written with it (see `build`)."""

from neardup.report.build import compact_alignment, write_alignments_and_report

__all__ = ["compact_alignment", "write_alignments_and_report"]
