// The one translation unit that compiles Asio (BOOST_ASIO_SEPARATE_COMPILATION): every other
// file only includes its declarations, which keeps builds fast on small machines.
#include <boost/asio/impl/src.hpp>
