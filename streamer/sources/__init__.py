"""Camera sources: settings, the readers (one thread per camera, a state machine), frame buffers and the watchdog."""
