//! Where clips go: one `object_store` API over local disk (the default: a household's one
//! binary) and any S3-compatible service (production). A clip is uploaded as it is written,
//! through a multipart upload whose parts are sent while the next ones fill, so a clip is never
//! held whole in memory: at most a part being filled and `MAX_PARTS_IN_FLIGHT` being sent.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{MultipartId, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::task::JoinSet;
use uuid::Uuid;

/// What every clip is.
pub const CLIP_CONTENT_TYPE: &str = "video/mp4";
/// S3's smallest part but the last: parts are cut at this size.
pub const PART_SIZE: usize = 5 * 1024 * 1024;
/// Parts of a clip on local disk.
pub const LOCAL_PART_SIZE: usize = 256 * 1024;
/// Parts being uploaded at once per clip; a clip waits (back pressure) beyond that.
const MAX_PARTS_IN_FLIGHT: usize = 2;

/// An S3-compatible bucket (AWS, MinIO, R2, ...).
#[derive(Clone)]
pub struct S3Config {
    pub bucket: String,
    /// Keys go under this prefix (no leading or trailing `/`; empty for none).
    pub prefix: String,
    /// e.g. `http://127.0.0.1:9000` for MinIO; AWS when `None`.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .finish()
    }
}

/// What `s3://` URLs need besides the bucket; each falls back to the usual `AWS_*` variable.
#[derive(Clone, Default)]
pub struct S3Options {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl S3Options {
    /// Fills what is missing from `AWS_ENDPOINT_URL`, `AWS_REGION` (or `AWS_DEFAULT_REGION`),
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    pub fn or_env(self) -> S3Options {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        S3Options {
            endpoint: self.endpoint.or_else(|| env("AWS_ENDPOINT_URL")),
            region: self
                .region
                .or_else(|| env("AWS_REGION"))
                .or_else(|| env("AWS_DEFAULT_REGION")),
            access_key_id: self.access_key_id.or_else(|| env("AWS_ACCESS_KEY_ID")),
            secret_access_key: self
                .secret_access_key
                .or_else(|| env("AWS_SECRET_ACCESS_KEY")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("object storage: {0}")]
    Object(#[from] object_store::Error),
    #[error("storage URL {0:?}: expected file:///path or s3://bucket/prefix")]
    BadUrl(String),
    #[error("upload task: {0}")]
    Upload(String),
    #[error("clip directory {path}: {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The clip store: an object store and the name clips' rows give as their `bucket`.
#[derive(Debug, Clone)]
pub struct ClipStore {
    objects: Arc<dyn ObjectStore>,
    bucket: String,
    /// Prepended to every key: `s3://bucket/prefix` shares a bucket.
    prefix: String,
    /// Where clips live on disk, for a local store (served with HTTP Range from the file).
    root: Option<PathBuf>,
    /// For an S3-compatible store: signs the short-lived URLs playback redirects to.
    signer: Option<Arc<AmazonS3>>,
}

impl ClipStore {
    /// Clips as files under `root` (created if missing); rows name the bucket `local`.
    pub fn local(root: impl Into<PathBuf>) -> Result<ClipStore, StoreError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|source| StoreError::Directory {
            path: root.clone(),
            source,
        })?;
        // Deleting a clip removes directories it leaves empty.
        let objects = LocalFileSystem::new_with_prefix(&root)?.with_automatic_cleanup(true);
        Ok(ClipStore {
            objects: Arc::new(objects),
            bucket: "local".into(),
            prefix: String::new(),
            root: Some(root),
            signer: None,
        })
    }

    /// Clips in an S3-compatible bucket.
    pub fn s3(config: &S3Config) -> Result<ClipStore, StoreError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(&config.access_key_id)
            .with_secret_access_key(&config.secret_access_key);
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        let s3 = Arc::new(builder.build()?);
        Ok(ClipStore {
            objects: s3.clone(),
            bucket: config.bucket.clone(),
            prefix: config.prefix.trim_matches('/').to_string(),
            root: None,
            signer: Some(s3),
        })
    }

    /// Any object store (tests use an in-memory one).
    pub fn with_objects(objects: Arc<dyn ObjectStore>, bucket: impl Into<String>) -> ClipStore {
        ClipStore {
            objects,
            bucket: bucket.into(),
            prefix: String::new(),
            root: None,
            signer: None,
        }
    }

    /// The file holding the object at `key`, for a store on local disk.
    pub fn local_path(&self, key: &str) -> Option<PathBuf> {
        let root = self.root.as_ref()?;
        // Keys are ours (`clips/<uuid>/<uuid>.mp4`), but never let one climb out of the root.
        let path = Path::parse(key).ok()?;
        let mut file = root.clone();
        for part in path.parts() {
            file.push(part.as_ref());
        }
        Some(file)
    }

    /// A URL that fetches the object at `key` for `ttl`, for an S3-compatible store.
    pub async fn presigned_get(
        &self,
        key: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<String>, StoreError> {
        use object_store::signer::{Method, SignedUrlOptions, Signer};
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        // Parts uploaded one by one carry no content type: the URL names it.
        let options =
            SignedUrlOptions::new().with_query([("response-content-type", CLIP_CONTENT_TYPE)]);
        let url = signer
            .signed_url_opts(Method::GET, &Path::from(key), ttl, &options)
            .await?;
        Ok(Some(url.to_string()))
    }

    /// A URL a device `PUT`s the object at `key` to within `ttl`, for an S3-compatible store.
    pub async fn presigned_put(
        &self,
        key: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<String>, StoreError> {
        self.presigned(object_store::signer::Method::PUT, key, ttl)
            .await
    }

    async fn presigned(
        &self,
        method: object_store::signer::Method,
        key: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<String>, StoreError> {
        use object_store::signer::Signer;
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let url = signer.signed_url(method, &Path::from(key), ttl).await?;
        Ok(Some(url.to_string()))
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn objects(&self) -> &Arc<dyn ObjectStore> {
        &self.objects
    }

    /// A store from `SECURECAM_STORAGE_URL`: `file:///path` (local disk) or
    /// `s3://bucket/prefix`, whose endpoint, region and keys come from `s3`.
    pub fn from_url(url: &str, s3: S3Options) -> Result<ClipStore, StoreError> {
        if let Some(path) = url.strip_prefix("file://") {
            return ClipStore::local(path);
        }
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(StoreError::BadUrl(url.to_string()));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StoreError::BadUrl(url.to_string()));
        }
        ClipStore::s3(&S3Config {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            endpoint: s3.endpoint,
            region: s3.region.unwrap_or_else(|| "us-east-1".to_string()),
            access_key_id: s3.access_key_id.unwrap_or_default(),
            secret_access_key: s3.secret_access_key.unwrap_or_default(),
        })
    }

    /// Under which every clip's key is.
    pub fn clips_prefix(&self) -> String {
        match self.prefix.as_str() {
            "" => "clips".to_string(),
            prefix => format!("{prefix}/clips"),
        }
    }

    /// Where a clip of `owner` lives: one prefix per owner, so retention by total size and
    /// the orphan sweep list one owner at a time.
    pub fn object_key(&self, owner: Uuid, recording: Uuid) -> String {
        match self.prefix.as_str() {
            "" => format!("clips/{owner}/{recording}.mp4"),
            prefix => format!("{prefix}/clips/{owner}/{recording}.mp4"),
        }
    }

    /// Starts uploading a clip to `key`.
    pub async fn begin(&self, key: &str) -> Result<ClipUpload, StoreError> {
        let path = Path::from(key);
        let inner = match &self.signer {
            Some(bucket) => Upload::Parts(BucketUpload {
                bucket: bucket.clone(),
                id: bucket.create_multipart(&path).await?,
                path,
                buffer: Vec::with_capacity(PART_SIZE),
                parts: Vec::new(),
                in_flight: JoinSet::new(),
            }),
            None => {
                // Local disk has no smallest part: small parts put a clip on disk as it is
                // written, which is what crash recovery salvages.
                let part = if self.root.is_some() {
                    LOCAL_PART_SIZE
                } else {
                    PART_SIZE
                };
                let upload = self.objects.put_multipart(&path).await?;
                Upload::Buffered(WriteMultipart::new_with_chunk_size(upload, part))
            }
        };
        Ok(ClipUpload { inner, written: 0 })
    }

    /// Completes a bucket upload a crashed recorder left, with the parts it stored (`etags`,
    /// in order); with none, aborts it. False when this store is no bucket.
    pub async fn complete_abandoned(
        &self,
        key: &str,
        upload_id: &str,
        etags: &[String],
    ) -> Result<bool, StoreError> {
        let Some(bucket) = &self.signer else {
            return Ok(false);
        };
        let path = Path::from(key);
        let id = upload_id.to_string();
        if etags.is_empty() {
            bucket.abort_multipart(&path, &id).await?;
            return Ok(false);
        }
        let parts = etags
            .iter()
            .map(|e| PartId {
                content_id: e.clone(),
            })
            .collect();
        bucket.complete_multipart(&path, &id, parts).await?;
        Ok(true)
    }

    /// The whole object at `key`, or `None` when there is none (crash recovery reads what a
    /// clip became; clips are never read whole otherwise).
    pub async fn read(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        match self.objects.get(&Path::from(key)).await {
            Ok(result) => Ok(Some(result.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The size of the object at `key`, or `None` when there is none.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        match self.objects.head(&Path::from(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the object at `key`; one that is already gone is fine.
    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.objects.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// One clip being uploaded.
pub struct ClipUpload {
    inner: Upload,
    written: u64,
}

enum Upload {
    /// Local disk (and other stores): `object_store` cuts and sends the parts.
    Buffered(WriteMultipart),
    /// A bucket: parts cut here, each at a write boundary (a whole fragment), so the parts
    /// stored so far always make a clip that plays; their ETags are what recovery completes.
    Parts(BucketUpload),
}

struct BucketUpload {
    bucket: Arc<AmazonS3>,
    path: Path,
    id: MultipartId,
    buffer: Vec<u8>,
    /// ETags by part number, as parts complete.
    parts: Vec<Option<PartId>>,
    in_flight: JoinSet<(usize, object_store::Result<PartId>)>,
}

impl BucketUpload {
    /// Sends what is buffered as the next part.
    fn send_part(&mut self) {
        let index = self.parts.len();
        self.parts.push(None);
        let data = PutPayload::from(std::mem::take(&mut self.buffer));
        let (bucket, path, id) = (self.bucket.clone(), self.path.clone(), self.id.clone());
        self.in_flight
            .spawn(async move { (index, bucket.put_part(&path, &id, index, data).await) });
    }

    /// Waits until at most `max` parts are in flight.
    async fn wait_for(&mut self, max: usize) -> Result<(), StoreError> {
        while self.in_flight.len() > max {
            let Some(done) = self.in_flight.join_next().await else {
                break;
            };
            let (index, part) = done.map_err(|e| StoreError::Upload(e.to_string()))?;
            self.parts[index] = Some(part?);
        }
        Ok(())
    }

    /// The ETags of the parts stored, from the first up to the first one still missing.
    fn stored(&self) -> Vec<PartId> {
        self.parts.iter().map_while(Clone::clone).collect()
    }
}

impl ClipUpload {
    /// Appends the clip's next bytes; waits while too many parts are still being sent.
    pub async fn write(&mut self, bytes: Bytes) -> Result<(), StoreError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.written += bytes.len() as u64;
        match &mut self.inner {
            Upload::Buffered(writer) => {
                writer.wait_for_capacity(MAX_PARTS_IN_FLIGHT).await?;
                writer.put(bytes);
            }
            Upload::Parts(upload) => {
                upload.buffer.extend_from_slice(&bytes);
                if upload.buffer.len() >= PART_SIZE {
                    upload.wait_for(MAX_PARTS_IN_FLIGHT - 1).await?;
                    upload.send_part();
                }
            }
        }
        Ok(())
    }

    /// Waits until every part handed to storage is stored (the bytes still filling the next
    /// part are not): what a crash at this moment would leave behind.
    pub async fn settle(&mut self) -> Result<(), StoreError> {
        match &mut self.inner {
            Upload::Buffered(writer) => Ok(writer.wait_for_capacity(0).await?),
            Upload::Parts(upload) => upload.wait_for(0).await,
        }
    }

    /// For a bucket upload: its id and the ETags of the parts stored so far, as a JSON array
    /// (what the clip's row keeps for crash recovery).
    pub fn bucket_state(&self) -> Option<(String, String)> {
        let Upload::Parts(upload) = &self.inner else {
            return None;
        };
        let etags: Vec<&str> = upload
            .parts
            .iter()
            .map_while(|p| p.as_ref().map(|p| p.content_id.as_str()))
            .collect();
        Some((
            upload.id.clone(),
            serde_json::to_string(&etags).expect("strings serialise"),
        ))
    }

    /// Bytes handed to the upload so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Sends the last part and completes the object; returns its size.
    pub async fn finish(self) -> Result<u64, StoreError> {
        match self.inner {
            Upload::Buffered(writer) => {
                writer.finish().await?;
            }
            Upload::Parts(mut upload) => {
                if !upload.buffer.is_empty() || upload.parts.is_empty() {
                    upload.send_part();
                }
                upload.wait_for(0).await?;
                let parts = upload.stored();
                upload
                    .bucket
                    .complete_multipart(&upload.path, &upload.id, parts)
                    .await?;
            }
        }
        Ok(self.written)
    }

    /// Gives up: the parts sent are discarded and no object appears.
    pub async fn abort(self) -> Result<(), StoreError> {
        match self.inner {
            Upload::Buffered(writer) => Ok(writer.abort().await?),
            Upload::Parts(mut upload) => {
                upload.in_flight.abort_all();
                Ok(upload
                    .bucket
                    .abort_multipart(&upload.path, &upload.id)
                    .await?)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize, seed: u8) -> Bytes {
        (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
    }

    /// A clip larger than two parts, written in fragment-sized pieces, arrives intact.
    async fn round_trip(store: &ClipStore) {
        let key = store.object_key(Uuid::now_v7(), Uuid::now_v7());
        let mut upload = store.begin(&key).await.unwrap();
        let mut expected = Vec::new();
        for i in 0..40 {
            let piece = bytes(300_000, i);
            expected.extend_from_slice(&piece);
            upload.write(piece).await.unwrap();
        }
        assert_eq!(
            store.size(&key).await.unwrap(),
            None,
            "not visible until complete"
        );
        assert_eq!(upload.finish().await.unwrap(), expected.len() as u64);
        assert_eq!(store.size(&key).await.unwrap(), Some(expected.len() as u64));
        let got = store
            .objects()
            .get(&Path::from(key.as_str()))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(got == expected, "the object holds exactly what was written");
        store.delete(&key).await.unwrap();
        assert_eq!(store.size(&key).await.unwrap(), None);
        store.delete(&key).await.unwrap();

        // An aborted clip leaves nothing.
        let mut upload = store.begin(&key).await.unwrap();
        upload.write(bytes(PART_SIZE + 1, 7)).await.unwrap();
        upload.abort().await.unwrap();
        assert_eq!(store.size(&key).await.unwrap(), None);
    }

    #[tokio::test]
    async fn clips_on_local_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = ClipStore::local(dir.path().join("clips")).unwrap();
        assert_eq!(store.bucket(), "local");
        round_trip(&store).await;
    }

    #[tokio::test]
    async fn clips_in_memory() {
        let store = ClipStore::with_objects(Arc::new(object_store::memory::InMemory::new()), "mem");
        round_trip(&store).await;
    }

    #[test]
    fn the_secret_key_never_prints() {
        let config = S3Config {
            bucket: "clips".into(),
            prefix: String::new(),
            endpoint: None,
            region: "us-east-1".into(),
            access_key_id: "AKIA".into(),
            secret_access_key: "very-secret".into(),
        };
        assert!(!format!("{config:?}").contains("very-secret"));
    }
}
