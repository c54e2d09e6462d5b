//! GeoIP (maxminddb) and user-agent normalisation.
