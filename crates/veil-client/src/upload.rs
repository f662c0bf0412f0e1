//! Streaming model upload over chunked OHTTP: the model is read in pieces
//! and each piece is encrypted and sent as it is read, so it is never held
//! in memory whole (nor twice).

use std::io;

use futures::TryStreamExt;
use futures::io::{AsyncReadExt as _, AsyncWriteExt};
use tokio::io::AsyncReadExt;
use tokio_util::compat::{TokioAsyncReadCompatExt, TokioAsyncWriteCompatExt};
use veil_model_crypto::owner;
use veil_protocol::ProtocolError;
use veil_protocol::challenge::CHALLENGE_HEADER;
use veil_protocol::channel::CHUNKED_REQUEST_MEDIA_TYPE;
use veil_protocol::inner::{self, InnerResponse, StreamingRequestHead};
use veil_protocol::oip::ModelInfo;

use crate::client::{parse_json, segment};
use crate::{Client, ClientError};

/// Plaintext read per step; `ohttp` splits it into 16 KiB chunks.
const READ_SIZE: usize = 256 * 1024;

impl Client {
    /// Uploads `total` bytes from `reader` as model `name` (owner only),
    /// with a fresh server challenge so that a replay changes nothing.
    /// The bytes are an ONNX model, or one encrypted to the server's model
    /// key ([`Client::encrypt_model_file`]), told apart by their first bytes.
    pub async fn upload_model_reader(
        &self,
        name: &str,
        mut reader: impl tokio::io::AsyncRead + Unpin + Send,
        total: u64,
        mut progress: impl FnMut(u64, u64) + Send,
    ) -> Result<ModelInfo, ClientError> {
        let mut prefix = Vec::with_capacity(owner::MAGIC.len());
        (&mut reader)
            .take(owner::MAGIC.len() as u64)
            .read_to_end(&mut prefix)
            .await?;
        let media_type = if owner::is_owner_encrypted(&prefix) {
            owner::MEDIA_TYPE
        } else {
            "application/octet-stream"
        };
        let reader = std::io::Cursor::new(prefix).chain(reader);
        let mut headers = self.headers(true);
        // Single use: a replay of this upload is refused.
        headers.push((CHALLENGE_HEADER.into(), self.challenge().await?));
        headers.push(("content-type".into(), media_type.into()));
        headers.push(("content-length".into(), total.to_string()));
        let path = format!("/v2/repository/models/{}", segment(name));
        let response = self
            .send_streaming("PUT", &path, &headers, reader, |sent| progress(sent, total))
            .await?;
        parse_json(&response)
    }

    /// Sends one inner request whose body is read from `body` and encrypted
    /// piece by piece as it is read (chunked OHTTP), so it is never held in
    /// memory whole; returns the inner response, whatever its status.
    ///
    /// For large bodies (model uploads); [`Client::send`] is simpler for
    /// small ones. `progress(sent)` is called as body bytes go out.
    pub async fn send_streaming(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        mut body: impl tokio::io::AsyncRead + Unpin + Send,
        mut progress: impl FnMut(u64) + Send,
    ) -> Result<InnerResponse, ClientError> {
        let head = StreamingRequestHead::encode(method, path, headers)?;

        let (pipe_in, pipe_out) = tokio::io::duplex(READ_SIZE);
        let mut writer = self
            .key
            .request()?
            .encapsulate_stream(pipe_in.compat_write())
            .map_err(ProtocolError::from)?;
        let outer_body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(pipe_out));
        let send = self
            .http
            .post(format!("{}/v1/ohttp", self.base))
            .header(reqwest::header::CONTENT_TYPE, CHUNKED_REQUEST_MEDIA_TYPE)
            .body(outer_body)
            .send();

        let write = async {
            writer.write_all(&head).await?;
            let mut buf = vec![0u8; READ_SIZE];
            let mut framed = Vec::with_capacity(READ_SIZE + 8);
            let mut sent = 0u64;
            loop {
                let n = body.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                framed.clear();
                inner::write_body_chunk(&buf[..n], &mut framed);
                writer.write_all(&framed).await?;
                sent += n as u64;
                progress(sent);
            }
            framed.clear();
            inner::write_body_end(&mut framed);
            writer.write_all(&framed).await?;
            writer.close().await?;
            io::Result::Ok(())
        };
        let (response, written) = tokio::join!(send, write);
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                return Err(match written {
                    Err(w) => ClientError::connection(format!("{e} (while sending: {w})")),
                    Ok(()) => ClientError::connection(e),
                });
            }
        };
        let status = response.status().as_u16();
        if status != 200 {
            let request_id = crate::client::outer_request_id(response.headers());
            let body = response.bytes().await.map_err(ClientError::connection)?;
            return Err(
                ClientError::from_response(status, &body).with_request_id(request_id.as_deref())
            );
        }
        let stream = response.bytes_stream().map_err(io::Error::other);
        let opened = async {
            let mut opened = writer
                .response(tokio_util::io::StreamReader::new(stream).compat())
                .map_err(ProtocolError::from)?;
            let mut plain = Vec::new();
            opened.read_to_end(&mut plain).await?;
            Ok::<_, ClientError>(InnerResponse::decode(&plain)?)
        }
        .await;
        match (opened, written) {
            (Ok(inner), Ok(())) => Ok(inner),
            // A server that refuses early (a bad token, say) answers before
            // it has read the body, and the rest of the body meets a closed
            // connection: its answer explains more than the broken pipe.
            (Ok(inner), Err(_)) if inner.status >= 400 => Ok(inner),
            (_, Err(e)) => Err(e.into()),
            (Err(e), Ok(())) => Err(e),
        }
    }
}
