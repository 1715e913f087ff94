"""twistd plugin: ``twistd -n ctid [--config FILE.toml]`` runs the ctid daemon under twistd (logging, pid file,
daemonisation and privileges as twistd provides them). ``ctid run`` is the same daemon without twistd."""
from twisted.application.service import IServiceMaker, Service
from twisted.plugin import IPlugin
from twisted.python import usage
from zope.interface import implementer


class Options(usage.Options):
    optParameters = [
        ["config", "c", None, "configuration file (TOML, docs/configuration.md); default: the embedded default"],
        ["data-dir", "d", None, "override [daemon] data_dir"],
    ]
    optFlags = [["demo-data", None, "load the demo hospital even with --config"]]


class CtidService(Service):
    def __init__(self, options):
        self.options = options
        self.daemon = None

    def startService(self):
        import argparse

        from twisted.internet import reactor

        from ctid.daemon import Daemon, load
        Service.startService(self)
        args = argparse.Namespace(config=self.options["config"], data_dir=self.options["data-dir"], listen=None)
        cfg = load(args)        # a ConfigError stops twistd with the message
        from twisted.logger import Logger

        from ctid import priority
        for note in priority.apply(cfg.daemon.priority):
            Logger(namespace="ctid").info("{note}", note=note)
        self.daemon = Daemon(cfg, reactor, demo=True if self.options["demo-data"] else None)

        def failed(f):
            from twisted.logger import Logger
            Logger(namespace="ctid").error("{msg}", msg=f.getErrorMessage())
            reactor.stop()
        from ctid.daemon import settle_heap
        self.daemon.start().addCallbacks(lambda _: settle_heap(), failed)

    def stopService(self):
        Service.stopService(self)
        if self.daemon is not None and self.daemon.started:
            return self.daemon.stop()


@implementer(IServiceMaker, IPlugin)
class CtidServiceMaker:
    tapname = "ctid"
    description = "ctid: open CTI platform for voice boards (daemon)"
    options = Options

    def makeService(self, options):
        return CtidService(options)


serviceMaker = CtidServiceMaker()
