// Anchors the shared precompiled header (see neurocore.cmake).
