"""Daemon set-up details found by bench/bench_daemon.py: log level names, recordings' file I/O off the reactor."""
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


def test_daemon_runtimes_do_file_io_in_the_thread_pool():
    """Recordings are opened, closed and fsync'd through run_io: the daemon gives its runtimes the reactor's
    thread pool (with the default, the fsync of every recording blocked the reactor thread)."""
    from twisted.internet import reactor

    from ctid.config import default_config
    from ctid.daemon import Daemon

    d = Daemon(default_config(), reactor)
    d._open_boards()
    try:
        assert d.runtimes
        for rt in d.runtimes.values():
            assert rt.run_io == d._in_thread
    finally:
        for p in d.pacers:
            p.stop()
        for rt in d.runtimes.values():
            rt.stop()
        for b in d.boards.values():
            b.close()
