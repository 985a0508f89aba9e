"""Stand-in for PyPI's `attrdict` (not packaged by Debian), which tritonclient's image_client.py
imports on its HTTP path only. AttrDict(d): a dict whose keys are also attributes, recursively."""


class AttrDict(dict):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        for k, v in list(self.items()):
            self[k] = _wrap(v)

    def __getattr__(self, k):
        try:
            return self[k]
        except KeyError:
            raise AttributeError(k)

    def __setattr__(self, k, v):
        self[k] = v


def _wrap(v):
    if isinstance(v, dict) and not isinstance(v, AttrDict):
        return AttrDict(v)
    if isinstance(v, list):
        return [_wrap(i) for i in v]
    return v
