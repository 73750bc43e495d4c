"""Functions written the way real Lambda code is: they fork, start daemons, crash, echo."""

import json
import os
import subprocess
import time


def echo_size(event, context):
    """How many characters the event's `data` holds."""
    return {"size": len(event.get("data", ""))}


def fork_then_crash(event, context):
    """First call: fork a child that lives on (as multiprocessing does) and return its pid.
    A later call with {"crash": true}: the runtime exits at once."""
    if event.get("crash"):
        os._exit(1)
    child = os.fork()
    if child == 0:  # the child: holds every descriptor the worker had, sleeps
        time.sleep(300)
        os._exit(0)
    return {"child": child}


def start_daemons(event, context):
    """Start a child in a session of its own (exec'd), and a double-forked daemon; their pids,
    printed (the log outlives a crash) and returned; then, with {"crash": true}, exit at once."""
    detached = subprocess.Popen(["sleep", "300"], start_new_session=True).pid
    read_end, write_end = os.pipe()
    if os.fork() == 0:
        os.setsid()
        grandchild = os.fork()
        if grandchild == 0:
            time.sleep(300)
            os._exit(0)
        os.write(write_end, json.dumps(grandchild).encode())
        os._exit(0)
    os.close(write_end)
    daemon = json.loads(os.read(read_end, 64))
    started = {"detached": detached, "daemon": daemon}
    print("STARTED " + json.dumps(started), flush=True)
    if event.get("crash"):
        os._exit(1)
    return started


def show_event(event, context):
    return {"event": event}


def allocate(event, context):
    """Hold `mb` megabytes (touched, so they are resident) and say the memory limit seen."""
    held = bytearray(event["mb"] * 1024 * 1024)
    for offset in range(0, len(held), 4096):
        held[offset] = 1
    return {"held_mb": len(held) // (1024 * 1024), "limit": context.memory_limit_in_mb}


def use_tmp(event, context):
    """Write /tmp/<name> (when asked), then say what /tmp holds and how large it is."""
    if event.get("crash"):
        os._exit(1)
    if event.get("write"):
        with open(f"/tmp/{event['write']}", "w") as note:
            note.write(context.function_name)
    size = os.statvfs("/tmp")
    return {"files": sorted(os.listdir("/tmp")), "size_mb": size.f_blocks * size.f_frsize // (1024 * 1024)}
