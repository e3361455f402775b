//! [`GeoDatabase`]: geolocation from a MaxMind `.mmdb` file (GeoIP2 or GeoLite2 City).

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use maxminddb::{geoip2, MaxMindDbError, Reader};

use super::geo::Geo;

/// A MaxMind City database (GeoIP2-City or GeoLite2-City `.mmdb`), read into memory once
/// and shared by every request; the client IP is looked up in it.
///
/// Give it to [`ProxyLayer::with_geo_database`](crate::ProxyLayer::with_geo_database) and read
/// [`ProxyRequest::geo`](crate::ProxyRequest::geo). A file that cannot be opened is an
/// error at start-up that names the file; a lookup that fails at request time is logged
/// and gives no location.
///
/// ```
/// use tower_proxy_fn::context::GeoDatabase;
///
/// let err = GeoDatabase::open("/no/such/GeoLite2-City.mmdb").unwrap_err();
/// assert!(err.to_string().starts_with("cannot open the MaxMind database /no/such/GeoLite2-City.mmdb: "));
/// ```
#[derive(Clone)]
pub struct GeoDatabase {
    reader: Arc<Reader<Vec<u8>>>,
    path: Arc<Path>,
}

impl GeoDatabase {
    /// Reads the database at `path` into memory.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, GeoDatabaseError> {
        let path = path.as_ref();
        let reader = Reader::open_readfile(path).map_err(|source| GeoDatabaseError {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            reader: Arc::new(reader),
            path: path.into(),
        })
    }

    /// The location of `ip`; `None` when the database has no record for it.
    pub fn lookup(&self, ip: IpAddr) -> Option<Geo> {
        let record = self
            .reader
            .lookup(ip.to_canonical())
            .and_then(|result| result.decode::<geoip2::City>());
        let city = match record {
            Ok(city) => city?,
            Err(err) => {
                tracing::error!(path = %self.path.display(), %ip, error = %err, "MaxMind lookup failed");
                return None;
            }
        };
        let geo = Geo {
            country: city.country.iso_code.map(str::to_owned),
            region: city
                .subdivisions
                .first()
                .and_then(|s| s.iso_code.or(s.names.english).map(str::to_owned)),
            city: city.city.names.english.map(str::to_owned),
            latitude: city.location.latitude,
            longitude: city.location.longitude,
        };
        (!geo.is_empty()).then_some(geo)
    }
}

impl fmt::Debug for GeoDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeoDatabase")
            .field("path", &self.path)
            .field("database_type", &self.reader.metadata().database_type)
            .finish()
    }
}

/// A MaxMind database that could not be opened: which file, and why.
#[derive(Debug)]
#[non_exhaustive]
pub struct GeoDatabaseError {
    path: PathBuf,
    source: MaxMindDbError,
}

impl GeoDatabaseError {
    /// The file that could not be opened.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl fmt::Display for GeoDatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot open the MaxMind database {}: {}",
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for GeoDatabaseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}
