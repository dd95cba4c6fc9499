# A fixed-size ring of lines kept while the uplink is down; the oldest line goes when it is full.
class Ring:
    def __init__(self, capacity):
        self._items = [None] * capacity
        self._cap = capacity
        self._head = 0  # index of the oldest item
        self._len = 0
        self.dropped = 0

    def __len__(self):
        return self._len

    def push(self, item):
        if self._len == self._cap:
            self._items[self._head] = item
            self._head = (self._head + 1) % self._cap
            self.dropped += 1
            return
        self._items[(self._head + self._len) % self._cap] = item
        self._len += 1

    def peek(self):
        if not self._len:
            return None
        return self._items[self._head]

    def pop(self):
        if not self._len:
            return None
        item = self._items[self._head]
        self._items[self._head] = None
        self._head = (self._head + 1) % self._cap
        self._len -= 1
        return item
