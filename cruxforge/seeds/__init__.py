"""Seed intake, validation and typing: everything before a seed reaches the rules engine."""

from cruxforge.seed_report import load_report, typed_seeds
from cruxforge.seeds.check import check_file, write_report
from cruxforge.seeds.intake import SeedFileError, read_seeds

__all__ = [
    "SeedFileError",
    "check_file",
    "load_report",
    "read_seeds",
    "typed_seeds",
    "write_report",
]
