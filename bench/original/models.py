from djtriggers.models import Trigger


class NoopTrigger(Trigger):
    class Meta:
        proxy = True

    typed = "noop"

    def _process(self, dictionary):
        return None
