import os

# Qt runs headless in tests and CI.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never touch the user's torch hub cache or the network from a test.
os.environ.setdefault("NETSURGEON_OFFLINE", "1")
