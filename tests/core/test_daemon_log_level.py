"""The daemon's log level: every name the config accepts (and --log-level's) maps to Twisted's and logging's."""
import logging

from twisted.logger import LogLevel

from ctid.config import parse_config
from ctid.daemon import log_levels


def test_config_log_levels_all_map():
    for name, tw, py in (("debug", LogLevel.debug, logging.DEBUG), ("info", LogLevel.info, logging.INFO),
                         ("warning", LogLevel.warn, logging.WARNING), ("error", LogLevel.error, logging.ERROR),
                         ("warn", LogLevel.warn, logging.WARNING)):
        assert log_levels(name) == (tw, py), name


def test_warning_from_a_config_file_is_usable():
    cfg = parse_config('[daemon]\nlog_level = "warning"\n')
    assert log_levels(cfg.daemon.log_level)[0] is LogLevel.warn
