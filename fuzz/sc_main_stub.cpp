// libsystemc refers to sc_main; the fuzz targets never start SystemC, and the
// weak definition in hw/core.cpp is not linked when nothing else needs core.o.
extern "C" int sc_main(int, char**) { return 0; }
