//! Where the command line's data keys come from: a local master key file
//! (`--key-file`, crypto-core's `raw-aes` keyring), a passphrase
//! (`--passphrase-file`, crypto-core's `passphrase-argon2id` keyring), an X25519
//! identity (`--identity`, crypto-core's `x25519-hpke` keyring) or AWS KMS
//! (`--kms-key-id`, through the server's [`KmsKeyService`] with the whole
//! `--context` sent to KMS).

use anyhow::{Context as _, bail};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_kms::config::ProvideCredentials as _;
use aws_sdk_s3::config::Region;
use cipherdrop_core::{
    DataKey, EncryptionContext, Header, Keyring, Opener, PassphraseKeyring, RawAesKeyring,
    WrappedKey, X25519Identity,
};

use super::KeyArgs;
use crate::keys::kms::{KmsContextScope, KmsKeyService};
use crate::keys::{KeyError, KeyService as _};

/// AWS settings of the command line (KMS for `--kms-key-id`, S3 for `cp`).
/// Everything else comes from the standard AWS configuration: `AWS_PROFILE`,
/// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, `~/.aws/config`, SSO, instance roles.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsArgs {
    /// Endpoint of KMS (with --kms-key-id) and S3 (for cp): moto, an S3-compatible
    /// store, ... Default: AWS_ENDPOINT_URL or the AWS configuration, else AWS itself.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// AWS region. Default: AWS_REGION or the AWS configuration.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

impl AwsArgs {
    /// Loads the AWS configuration and checks that a region and credentials are there.
    ///
    /// # Errors
    /// With a message saying how to configure what is missing.
    pub async fn load(&self) -> anyhow::Result<SdkConfig> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        if sdk.region().is_none() {
            bail!("no AWS region: pass --region or set AWS_REGION (or a region in ~/.aws/config)");
        }
        let Some(credentials) = sdk.credentials_provider() else {
            bail!(NO_CREDENTIALS);
        };
        credentials
            .provide_credentials()
            .await
            .map_err(|_| anyhow::anyhow!(NO_CREDENTIALS))?;
        Ok(sdk)
    }
}

const NO_CREDENTIALS: &str = "no AWS credentials found: set AWS_ACCESS_KEY_ID and \
AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with a profile in ~/.aws/credentials or ~/.aws/config \
(`aws configure`, `aws sso login`), or run where an instance or task role is available";

/// A loaded key source: the master key file, a passphrase or a KMS key.
#[derive(Debug)]
pub enum KeySource {
    /// `--key-file`: the `raw-aes` keyring.
    File(RawAesKeyring),
    /// `--passphrase-file`: the `passphrase-argon2id` keyring.
    Passphrase(PassphraseKeyring),
    /// `--identity`: the `x25519-hpke` keyring (an X25519 private key).
    Identity(X25519Identity),
    /// `--kms-key-id`: AWS KMS.
    Kms {
        /// The key service, sending the whole context to KMS.
        service: KmsKeyService,
        /// The key id as given (for messages).
        key_id: String,
    },
}

impl KeyArgs {
    /// Loads the master key or passphrase file, or prepares the KMS client
    /// (checking credentials).
    ///
    /// # Errors
    /// Unreadable key or passphrase file; missing AWS region or credentials.
    pub async fn key_source(&self) -> anyhow::Result<KeySource> {
        self.key_source_in(None).await
    }

    /// As [`KeyArgs::key_source`], with an AWS configuration already loaded.
    ///
    /// # Errors
    /// As [`KeyArgs::key_source`].
    pub async fn key_source_in(&self, sdk: Option<&SdkConfig>) -> anyhow::Result<KeySource> {
        match (
            &self.key_file,
            &self.passphrase_file,
            &self.identity,
            &self.kms_key_id,
        ) {
            (Some(_), None, None, None) => Ok(KeySource::File(self.keyring()?)),
            (None, Some(_), None, None) => Ok(KeySource::Passphrase(self.passphrase_keyring()?)),
            (None, None, Some(_), None) => Ok(KeySource::Identity(self.identity_keyring()?)),
            (None, None, None, Some(key_id)) => {
                crate::keys::kms::refuse_aws_managed_key(key_id)?;
                let client = match sdk {
                    Some(sdk) => aws_sdk_kms::Client::new(sdk),
                    None => aws_sdk_kms::Client::new(&self.aws.load().await?),
                };
                let service = KmsKeyService::new(client, key_id.clone())
                    .with_context_scope(KmsContextScope::Whole);
                Ok(KeySource::Kms {
                    service,
                    key_id: key_id.clone(),
                })
            }
            _ => bail!(
                "give exactly one of --key-file, --passphrase-file, --identity and --kms-key-id"
            ),
        }
    }

    /// A fresh data key and its wrapped form, for the synchronous file commands.
    ///
    /// # Errors
    /// As [`KeySource::new_data_key`].
    pub fn new_data_key_blocking(
        &self,
        context: &EncryptionContext,
        plaintext_len: Option<u64>,
    ) -> anyhow::Result<(DataKey, WrappedKey)> {
        block_on(async {
            self.key_source()
                .await?
                .new_data_key(context, plaintext_len)
                .await
        })?
    }

    /// Unwraps the data key of `header` and checks the header, for the synchronous
    /// file commands.
    ///
    /// # Errors
    /// As [`KeySource::opener`].
    pub fn opener_blocking(
        &self,
        header: Header,
        context: &EncryptionContext,
    ) -> anyhow::Result<Opener> {
        block_on(async { self.key_source().await?.opener(header, context).await })?
    }
}

/// Runs `f` on a small runtime (the KMS client is async).
fn block_on<T>(f: impl Future<Output = T>) -> anyhow::Result<T> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(rt.block_on(f))
}

impl KeySource {
    /// A fresh data key wrapped under `context`: random and wrapped by the master
    /// key or the passphrase, or made by KMS `GenerateDataKey` (AES_256) with
    /// `context` as its `EncryptionContext` (provider `aws-kms`, info = the key ARN
    /// KMS reports).
    ///
    /// # Errors
    /// When KMS refuses or fails (one line saying why).
    pub async fn new_data_key(
        &self,
        context: &EncryptionContext,
        plaintext_len: Option<u64>,
    ) -> anyhow::Result<(DataKey, WrappedKey)> {
        match self {
            Self::File(keyring) => wrap_fresh_data_key(keyring, context),
            Self::Passphrase(keyring) => wrap_fresh_data_key(keyring, context),
            Self::Identity(keyring) => wrap_fresh_data_key(keyring, context),
            Self::Kms { service, key_id } => {
                let generated = service
                    .generate(context, plaintext_len.unwrap_or(0))
                    .await
                    .map_err(|e| kms_error(&e, key_id))?;
                Ok((generated.data_key, generated.wrapped))
            }
        }
    }

    /// Unwraps the data key of `header` under `context` and checks the header
    /// (context, key commitment, header tag) with crypto-core's [`Opener`]. For KMS,
    /// `Decrypt` is called with the key id and the whole context, so KMS itself
    /// refuses a wrong context or key.
    ///
    /// # Errors
    /// Wrong key or context, a file with no wrapped key for this source, KMS failures.
    pub async fn opener(
        &self,
        header: Header,
        context: &EncryptionContext,
    ) -> anyhow::Result<Opener> {
        match self {
            Self::File(keyring) => Ok(Opener::with_keyring(header, keyring, context)?),
            Self::Passphrase(keyring) => Ok(Opener::with_keyring(header, keyring, context)?),
            Self::Identity(keyring) => Ok(Opener::with_keyring(header, keyring, context)?),
            Self::Kms { service, key_id } => {
                let data_key = service
                    .unwrap(header.wrapped_keys(), context)
                    .await
                    .map_err(|e| kms_error(&e, key_id))?;
                Ok(Opener::new(header, &data_key, context)?)
            }
        }
    }
}

impl KeySource {
    /// The data key of `header` itself (for re-wrapping), checked as
    /// [`KeySource::opener`] checks it (context, key commitment, header tag), and
    /// the index of the wrapped key that opened it. Entries are tried one at a
    /// time in header order; a passphrase runs Argon2id once (a header holds at
    /// most one passphrase entry).
    ///
    /// # Errors
    /// As [`KeySource::opener`].
    pub async fn data_key(
        &self,
        header: &Header,
        context: &EncryptionContext,
    ) -> anyhow::Result<(DataKey, usize)> {
        if header.context() != context {
            return Err(cipherdrop_core::Error::ContextMismatch.into());
        }
        let wrapped = header.wrapped_keys();
        let (found, guessable) = match self {
            Self::File(keyring) => (first_that_opens(keyring, wrapped, context), false),
            Self::Passphrase(keyring) => (first_that_opens(keyring, wrapped, context), true),
            Self::Identity(keyring) => (first_that_opens(keyring, wrapped, context), false),
            Self::Kms { service, key_id } => {
                let mut last = KeyError::NoUsableWrappedKey;
                let mut found = None;
                for (i, w) in wrapped.iter().enumerate() {
                    if w.provider_id != cipherdrop_core::keyring::AWS_KMS {
                        continue;
                    }
                    match service.unwrap(std::slice::from_ref(w), context).await {
                        Ok(data_key) => {
                            found = Some((data_key, i));
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                (found.ok_or_else(|| kms_error(&last, key_id)), false)
            }
        };
        let (data_key, index) = found?;
        // The same checks, in the same order, as opening the file.
        Opener::new(header.clone(), &data_key, context).map_err(|e| match e {
            cipherdrop_core::Error::CommitmentMismatch if guessable => {
                cipherdrop_core::Error::WrongKey
            }
            e => e,
        })?;
        Ok((data_key, index))
    }
}

/// The first entry of `wrapped` that `keyring` opens, and its index.
fn first_that_opens(
    keyring: &dyn Keyring,
    wrapped: &[WrappedKey],
    context: &EncryptionContext,
) -> anyhow::Result<(DataKey, usize)> {
    wrapped
        .iter()
        .enumerate()
        .find_map(|(i, w)| {
            keyring
                .unwrap(std::slice::from_ref(w), context)
                .ok()
                .map(|k| (k, i))
        })
        .ok_or_else(|| cipherdrop_core::Error::WrongKey.into())
}

/// A fresh random data key, wrapped by a keyring held in this process.
fn wrap_fresh_data_key(
    keyring: &dyn Keyring,
    context: &EncryptionContext,
) -> anyhow::Result<(DataKey, WrappedKey)> {
    let data_key = DataKey::generate()?;
    let wrapped = keyring.wrap(&data_key, context)?;
    Ok((data_key, wrapped))
}

/// One line a person can act on for a KMS failure.
fn kms_error(e: &KeyError, key_id: &str) -> anyhow::Error {
    match e {
        KeyError::KeyDisabled => {
            anyhow::anyhow!("the KMS key {key_id} is disabled or pending deletion")
        }
        KeyError::KeyNotFound => {
            anyhow::anyhow!("KMS has no key {key_id} (check --kms-key-id and --region)")
        }
        KeyError::AccessDenied => anyhow::anyhow!(
            "KMS refused to unwrap the data key: wrong key or encryption context \
             (or your AWS identity may not use {key_id})"
        ),
        KeyError::NoUsableWrappedKey => anyhow::anyhow!(
            "this file has no KMS-wrapped data key (was it encrypted with --key-file?)"
        ),
        KeyError::Unavailable(detail) => anyhow::anyhow!(
            "cannot reach KMS ({detail}); check --endpoint-url, --region and the network"
        ),
        KeyError::Other(detail) if detail.contains("AccessDenied") => {
            anyhow::anyhow!("KMS denied access to the key {key_id}: {detail}")
        }
        KeyError::Other(detail) => anyhow::anyhow!("KMS failed: {detail}"),
    }
}
