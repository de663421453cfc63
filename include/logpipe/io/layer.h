// Included first by every header of include/logpipe/io/: the io layer (endpoints, files,
// sockets, Kafka, HTTP) sits above the core, and the core must not depend on it. The io target
// defines LOGPIPE_LAYER_IO for itself and for what links it (cli, tools, tests); a file of
// src/core that includes an io header stops the build here (docs/architecture.md, "Layers").
#pragma once

#ifndef LOGPIPE_LAYER_IO
#error "logpipe/io/ headers belong to the io layer: src/core must not include them (docs/architecture.md, Layers)"
#endif
