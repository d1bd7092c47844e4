"""Simulated consul API (stub until implemented)."""
from ..httpcore import HttpError


class ConsulState:
    def __init__(self, lab):
        self.lab = lab

    def app(self, request):
        raise HttpError(404, "not implemented")

    def tick(self):
        pass

    def dump(self):
        return {}

    def restore(self, data):
        pass

    def reset(self):
        pass

    def set_node_health(self, node, up):
        pass

    def set_node_status(self, node, up):
        pass

    def fail_next_deployment(self, job, namespace):
        pass
