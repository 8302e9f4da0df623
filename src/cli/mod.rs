//! The command line as clap types: flags and nothing else. Turning them into
//! paths, an opened registry or loaded keys happens in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "airlock",
    version = env!("AIRLOCK_VERSION_TEXT"),
    about = "Carry open-weights ML models into isolated networks with proof of what they are"
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global flags")]
pub(crate) struct GlobalArgs {
    /// The registry home [default: $AIRLOCK_HOME, else the platform data dir]
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) home: Option<PathBuf>,
    /// Print one JSON document on stdout, nothing else
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Print only errors and data
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
    /// Say more about what is happening
    #[arg(short, long, global = true)]
    pub(crate) verbose: bool,
    /// No progress bars or progress lines
    #[arg(long, global = true)]
    pub(crate) no_progress: bool,
    /// A name recorded beside the OS account as who made a change (a claim:
    /// the account is always recorded)
    #[arg(long, global = true, value_name = "LABEL")]
    pub(crate) actor: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the home (store, database, policy file)
    #[command(after_help = "Example:\n  airlock init --name enclave-a")]
    Init(InitArgs),
    /// Import a model folder (plain or Hugging Face download) or a signed bundle
    #[command(disable_version_flag = true)]
    #[command(
        after_help = "Examples:\n  airlock import ./Llama-3.1-8B-Instruct --name meta-llama/Llama-3.1-8B-Instruct --license llama3.1 --owner ml-platform\n  airlock import /media/disc/llama.airlock.001"
    )]
    Import(ImportArgs),
    /// Models and versions, one line each
    #[command(after_help = "Examples:\n  airlock list\n  airlock --json list")]
    List,
    /// One version: files, provenance, licence, disclosure, owner
    #[command(
        after_help = "Examples:\n  airlock show meta-llama/Llama-3.1-8B-Instruct@v3\n  airlock --json show mistralai/Mistral-7B-v0.3"
    )]
    Show(RefArgs),
    /// Evaluation and cost records: signed results, comparisons, the prod gate
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  airlock eval record acme/tiny@v2 --suite mmlu --metric accuracy --value 0.712 --key keys/evaluator.key\n  airlock eval compare acme/tiny@v1 acme/tiny@v2"
    )]
    Eval(EvalCommand),
    /// What this registry holds, for a delta export on the connected side
    #[command(
        after_help = "Examples:\n  airlock holdings --out /media/usb/holdings.json --key keys/isolated.key\n  airlock export acme/tiny@v2 --key keys/exporter.key --out tiny-v2.airlock --delta-against holdings.json"
    )]
    Holdings(HoldingsArgs),
    /// Aliases with history: NAME@ALIAS wherever a reference is taken
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  airlock alias set acme/tiny prod v3\n  airlock alias list acme/tiny --at 2026-03-01"
    )]
    Alias(AliasCommand),
    /// What differs between two versions: files, tensors, licence, disclosure, owner, approvals
    #[command(
        after_help = "Examples:\n  airlock diff meta-llama/Llama-3.1-8B-Instruct@v2 meta-llama/Llama-3.1-8B-Instruct@v3\n  airlock --json diff acme/tiny@v1 acme/tiny"
    )]
    Diff(DiffArgs),
    /// Re-check stored bytes (or a folder with --path) against the records
    #[command(
        after_help = "Examples:\n  airlock verify --all --deep\n  airlock verify --path /srv/models/llama meta-llama/Llama-3.1-8B-Instruct"
    )]
    Verify(VerifyArgs),
    /// Materialise a verified, read-only copy
    #[command(
        after_help = "Examples:\n  airlock checkout meta-llama/Llama-3.1-8B-Instruct /srv/models/llama\n  airlock checkout mistralai/Mistral-7B-v0.3 ~/.cache/huggingface/hub --layout hf"
    )]
    Checkout(CheckoutArgs),
    /// Check that the store and the database agree
    #[command(after_help = "Example:\n  airlock fsck")]
    Fsck,
    /// Remove blobs no version references
    #[command(after_help = "Examples:\n  airlock gc --dry-run\n  airlock gc")]
    Gc(GcArgs),
    /// What each weight file is: format, tensors, dtypes, parameters, safety
    #[command(
        after_help = "Examples:\n  airlock inspect ./download/model.safetensors\n  airlock inspect meta-llama/Llama-3.1-8B-Instruct"
    )]
    Inspect(InspectArgs),
    /// Make ed25519 key pairs
    #[command(subcommand)]
    #[command(after_help = "Example:\n  airlock keys generate --out keys/alice --name alice")]
    Keys(KeysCommand),
    /// This registry's trust store and approval policy
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  airlock trust add keys/alice.pub --name alice --role approver\n  airlock trust policy --approvals 2"
    )]
    Trust(TrustCommand),
    /// Approve a version: sign its statement
    #[command(
        after_help = "Example:\n  airlock sign meta-llama/Llama-3.1-8B-Instruct@v3 --key keys/alice.key"
    )]
    Sign(SignArgs),
    /// Revoke a version: a signed revocation that travels in later bundles
    #[command(
        after_help = "Example:\n  airlock revoke meta-llama/Llama-3.1-8B-Instruct@v2 --key keys/alice.key --reason \"superseded: tokenizer bug\""
    )]
    Revoke(RevokeArgs),
    /// Write a signed bundle of one or more versions (or an OCI image layout)
    #[command(
        after_help = "Examples:\n  airlock export meta-llama/Llama-3.1-8B-Instruct --key keys/exporter.key --out llama.airlock --volume-size 25GB\n  airlock export meta-llama/Llama-3.1-8B-Instruct --key keys/exporter.key --out again/llama.airlock --volume-size 25GB --volumes 3\n  airlock export mistralai/Mistral-7B-v0.3 --format oci-layout --out ./mistral-oci"
    )]
    Export(ExportArgs),
    /// Shell completions for bash, zsh, fish, powershell or elvish, on stdout
    #[command(
        after_help = "Examples:\n  airlock completions bash > /etc/bash_completion.d/airlock\n  airlock completions zsh > \"${fpath[1]}/_airlock\""
    )]
    Completions(CompletionsArgs),
    /// The man page (roff), on stdout
    #[command(after_help = "Example:\n  airlock man > /usr/local/share/man/man1/airlock.1")]
    Man,
    /// Push versions to an OCI registry as ModelPack artifacts with their signed statements
    #[command(
        after_help = "Example:\n  airlock push meta-llama/Llama-3.1-8B-Instruct@v3 oci://registry.enclave:5000/models/llama --ca-file ca.pem"
    )]
    Push(PushArgs),
    /// Pull a version from an OCI registry, verified like a bundle
    #[command(
        after_help = "Examples:\n  airlock pull oci://registry.enclave:5000/models/llama:v3 --ca-file ca.pem\n  airlock pull oci://127.0.0.1:5000/models/llama@sha256:<digest> --plain-http"
    )]
    Pull(PullArgs),
    /// Check out a verified copy and record the deployment (or record one)
    #[command(
        after_help = "Examples:\n  airlock deploy meta-llama/Llama-3.1-8B-Instruct /srv/models/llama --env prod --note \"chat service\"\n  airlock deploy mistralai/Mistral-7B-v0.3 --record-only --host gpu-07 --path /models/mistral"
    )]
    Deploy(DeployArgs),
    /// End a deployment record (history is kept)
    #[command(
        after_help = "Example:\n  airlock undeploy meta-llama/Llama-3.1-8B-Instruct --host gpu-07 --path /srv/models/llama"
    )]
    Undeploy(UndeployArgs),
    /// Deployments: where, what, licence, approvals; --verify re-hashes them
    #[command(
        after_help = "Examples:\n  airlock audit --verify\n  airlock audit --host gpu-07 --format markdown"
    )]
    Audit(AuditArgs),
    /// Identify the files of a folder by their hash
    #[command(after_help = "Example:\n  airlock scan /srv/models")]
    Scan(ScanArgs),
    /// Licence terms and the organisation's licence policy
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  airlock license show meta-llama/Llama-3.1-8B-Instruct\n  airlock license check meta-llama/Llama-3.1-8B-Instruct --policy policy.toml"
    )]
    License(LicenseCommand),
    /// The append-only, hash-chained event log
    #[command(
        after_help = "Examples:\n  airlock log --verify\n  airlock log checkpoint --key keys/auditor.key"
    )]
    Log(LogArgs),
    /// A CycloneDX 1.6 ML-BOM for a version
    #[command(
        after_help = "Example:\n  airlock bom meta-llama/Llama-3.1-8B-Instruct --out llama.cdx.json"
    )]
    Bom(BomArgs),
    /// The whole story on a small generated model
    #[command(
        after_help = "Examples:\n  cargo run --release -- demo\n  airlock demo --dir ./airlock-demo"
    )]
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// NAME[@VERSION]
    pub(crate) reference: String,
    /// Where to lay out the copy (omit with --record-only)
    #[arg(required_unless_present = "record_only")]
    pub(crate) dir: Option<PathBuf>,
    /// The host [default: this host]
    #[arg(long)]
    pub(crate) host: Option<String>,
    /// The environment (prod, staging, …)
    #[arg(long = "env", value_name = "E")]
    pub(crate) environment: Option<String>,
    /// A free note kept with the record
    #[arg(long, value_name = "T")]
    pub(crate) note: Option<String>,
    /// Record a copy placed by other means (needs --host and --path)
    #[arg(long, requires_all = ["host", "path"], conflicts_with = "dir")]
    pub(crate) record_only: bool,
    /// The path of a copy placed by other means
    #[arg(long, value_name = "P")]
    pub(crate) path: Option<String>,
    #[command(flatten)]
    pub(crate) flags: CheckoutFlags,
}

#[derive(Debug, Args)]
pub(crate) struct UndeployArgs {
    /// NAME[@VERSION]
    pub(crate) reference: String,
    /// The host the copy is on
    #[arg(long)]
    pub(crate) host: String,
    /// The folder as deployed (the one named to `deploy`; for `--layout hf`
    /// the cache folder)
    #[arg(long, value_name = "P")]
    pub(crate) path: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum ReportFormat {
    Table,
    Markdown,
}

#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// Only deployments on this host
    #[arg(long)]
    pub(crate) host: Option<String>,
    /// Only deployments of this model
    #[arg(long, value_name = "NAME")]
    pub(crate) model: Option<String>,
    /// Re-hash the deployed copies on this host and mark drift
    #[arg(long)]
    pub(crate) verify: bool,
    /// How to print the report (with `--json`, JSON wins)
    #[arg(long, value_enum, default_value = "table")]
    pub(crate) format: ReportFormat,
    #[command(subcommand)]
    pub(crate) command: Option<AuditCommand>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Record a host's signed verification report as its deployment's last
    /// check — a report file, or every report attached to a model manifest
    /// in an OCI registry
    #[command(
        after_help = "Examples:\n  airlock audit ingest reports/gpu-07-llama.json\n  airlock audit ingest oci://registry.enclave:5000/models/llama:v1"
    )]
    Ingest {
        /// The report (`verify --path DIR REF --attest --key HOST.key --out
        /// REPORT` on the host), or oci://HOST[:PORT]/REPO[:TAG|@sha256:DIGEST]
        /// of the model whose attached reports are collected
        report: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// On a serving host: attach a signed verification report to the
    /// model's manifest in an OCI registry (as a referrer), for `audit
    /// ingest oci://…` on the registry side
    #[command(
        after_help = "Example:\n  airlock audit push gpu-07-llama.json oci://registry.enclave:5000/models/llama:v1"
    )]
    Push {
        /// The report (`verify --path DIR REF --attest --key HOST.key --out REPORT`)
        report: PathBuf,
        /// The model: oci://HOST[:PORT]/REPO[:TAG|@sha256:DIGEST]
        target: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    /// The folder to scan for model folders
    pub(crate) dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LicenseCommand {
    /// A version's licence: id, terms, the stored text
    #[command(after_help = "Example:\n  airlock license show meta-llama/Llama-3.1-8B-Instruct")]
    Show {
        /// NAME[@VERSION]
        reference: String,
    },
    /// Evaluate a version against the licence policy (exit 4 when it forbids)
    #[command(
        after_help = "Examples:\n  airlock license check meta-llama/Llama-3.1-8B-Instruct\n  airlock license check mistralai/Mistral-7B-v0.3 --policy /etc/airlock/policy.toml"
    )]
    Check {
        /// NAME[@VERSION]
        reference: String,
        /// The policy file [default: policy.toml in the home]
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    #[command(subcommand)]
    pub(crate) command: Option<LogCommand>,
    /// Prove the chain unbroken and every record logged (exit 3 otherwise)
    #[arg(long)]
    pub(crate) verify: bool,
    /// Only events about this model
    #[arg(long, value_name = "NAME")]
    pub(crate) model: Option<String>,
    /// Only events mentioning this host
    #[arg(long)]
    pub(crate) host: Option<String>,
    /// Only events at or after this time (RFC 3339, or a date YYYY-MM-DD)
    #[arg(long, value_name = "TIME")]
    pub(crate) since: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LogCommand {
    /// Sign the current head of the log
    #[command(after_help = "Example:\n  airlock log checkpoint --key keys/auditor.key")]
    Checkpoint {
        /// The private key that signs the checkpoint
        #[arg(long, value_name = "KEYFILE")]
        key: PathBuf,
    },
}

#[derive(Debug, Args)]
pub(crate) struct BomArgs {
    /// NAME[@VERSION]
    pub(crate) reference: String,
    /// Write to FILE instead of stdout
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// A new key pair: PREFIX.key (mode 0600) and PREFIX.pub
    #[command(
        after_help = "Examples:\n  airlock keys generate --out keys/alice --name alice\n  airlock keys generate --algorithm p256 --out keys/publisher"
    )]
    Generate {
        /// Path prefix of the two files
        #[arg(long, value_name = "PREFIX")]
        out: PathBuf,
        /// A name for the key, written as a comment in the public key file
        /// (ed25519)
        #[arg(long)]
        name: Option<String>,
        /// ed25519 for approvals and bundles; p256 or p384 (ECDSA) for
        /// OpenSSF model signatures (`sign --format oms`)
        #[arg(long, value_enum, default_value = "ed25519")]
        algorithm: KeyAlgorithm,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum EvalCommand {
    /// Record a signed evaluation result (and cost) for a version
    #[command(
        after_help = "Examples:\n  airlock eval record acme/tiny@v2 --suite mmlu --metric accuracy --value 0.712 --key keys/evaluator.key\n  airlock eval record acme/tiny@v2 --suite serving --metric p95_latency_ms --value 180 --lower-is-better --cost-per-1k-outputs 0.42 --currency EUR --key keys/evaluator.key"
    )]
    Record {
        /// The version, NAME[@VERSION]
        reference: String,
        /// The evaluation suite
        #[arg(long)]
        suite: String,
        /// The metric
        #[arg(long)]
        metric: String,
        /// Its value
        #[arg(long, allow_negative_numbers = true)]
        value: f64,
        /// A higher value is better (the default)
        #[arg(long, conflicts_with = "lower_is_better")]
        higher_is_better: bool,
        /// A lower value is better (latency, cost, error rates)
        #[arg(long)]
        lower_is_better: bool,
        /// What 1,000 outputs cost
        #[arg(
            long = "cost-per-1k-outputs",
            value_name = "AMOUNT",
            requires = "currency"
        )]
        cost_per_1k_outputs: Option<f64>,
        /// The cost's currency (e.g. EUR)
        #[arg(long, requires = "cost_per_1k_outputs")]
        currency: Option<String>,
        /// Free text kept with the record
        #[arg(long)]
        notes: Option<String>,
        /// The evaluator's private key (ed25519): the record is signed
        #[arg(long, value_name = "KEYFILE")]
        key: PathBuf,
    },
    /// A version's evaluation records, each signature checked
    #[command(after_help = "Example:\n  airlock eval list acme/tiny@v2")]
    List {
        /// The version, NAME[@VERSION]
        reference: String,
    },
    /// Compare the latest results of two versions; regressions flagged
    #[command(after_help = "Example:\n  airlock eval compare acme/tiny@prod acme/tiny@v3")]
    Compare {
        /// The first version
        from: String,
        /// The second version
        to: String,
    },
    /// Show or set per-metric thresholds and the suite prod deploys need
    #[command(
        after_help = "Examples:\n  airlock eval policy --threshold accuracy=0.005 --require-for-prod mmlu\n  airlock eval policy --require-for-prod none"
    )]
    Policy {
        /// METRIC=X: a worse change larger than X is a regression (default 0)
        #[arg(long, value_name = "METRIC=X")]
        threshold: Vec<String>,
        /// The suite a version needs, without regression against what is in
        /// prod, before `deploy --env prod` (`none` to drop it)
        #[arg(long, value_name = "SUITE")]
        require_for_prod: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AliasCommand {
    /// Point ALIAS of NAME at VERSION (set or move it; logged)
    #[command(
        after_help = "Examples:\n  airlock alias set meta-llama/Llama-3.1-8B-Instruct prod v3\n  airlock alias set acme/tiny candidate sha256:0123456789ab"
    )]
    Set {
        /// The model
        name: String,
        /// The alias ([A-Za-z0-9._-]; not a label the model has)
        alias: String,
        /// The version it points at: a label or sha256:PREFIX
        version: String,
    },
    /// Remove ALIAS of NAME (logged; the history keeps it)
    #[command(after_help = "Example:\n  airlock alias rm acme/tiny candidate")]
    Rm {
        /// The model
        name: String,
        /// The alias
        alias: String,
    },
    /// The aliases of NAME (of every model without NAME), now or at a time
    #[command(
        after_help = "Examples:\n  airlock alias list acme/tiny\n  airlock alias list acme/tiny --at 2026-03-01T09:00:00Z"
    )]
    List {
        /// The model
        name: Option<String>,
        /// Where the aliases pointed at this time (RFC 3339 or a date), from the log
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
    },
    /// Every change of the aliases of NAME (or of one ALIAS), from the log
    #[command(
        after_help = "Examples:\n  airlock alias history acme/tiny\n  airlock alias history acme/tiny prod"
    )]
    History {
        /// The model
        name: String,
        /// Only this alias
        alias: Option<String>,
    },
    /// Show or set which aliases need an approved target
    #[command(
        after_help = "Examples:\n  airlock alias policy --require-approval prod,staging\n  airlock alias policy --require-approval '*'\n  airlock alias policy --require-approval none"
    )]
    Policy {
        /// Comma-separated aliases (`*`: all, `none`: no alias) whose version
        /// must carry the approvals the trust policy requires
        #[arg(long, value_name = "ALIASES")]
        require_approval: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OmsPolicyArg {
    Verify,
    Informative,
    Required,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KeyAlgorithm {
    Ed25519,
    P256,
    P384,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SignFormat {
    /// An airlock approval recorded in this registry
    Approval,
    /// An OpenSSF model-signing signature file (needs a p256/p384 key, --out)
    Oms,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum RoleArg {
    Approver,
    Exporter,
    Any,
    /// An ECDSA key that signs OpenSSF model signatures
    ModelSigner,
    /// A serving host's ed25519 key that signs verification reports
    Host,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TrustCommand {
    /// Trust a public key for a role (locally; `--local` once a signed root exists)
    #[command(
        after_help = "Examples:\n  airlock trust add keys/alice.pub --name alice --role approver\n  airlock trust add keys/publisher.pub --name publisher --role model-signer"
    )]
    Add {
        /// The public key file (SPKI PEM)
        pubfile: PathBuf,
        /// Who holds the key
        #[arg(long)]
        name: String,
        /// What the key may sign
        #[arg(long, value_enum, default_value = "approver")]
        role: RoleArg,
        /// An origin (exporting registry) this exporter key may speak for;
        /// repeatable [default: the first origin it brings, if no other key holds it]
        #[arg(long = "origin", value_name = "NAME")]
        origins: Vec<String>,
        /// Break-glass: change the trust of a registry that has a signed root (logged)
        #[arg(long)]
        local: bool,
    },
    /// Trust a CA for OpenSSF model signatures in certificate mode
    #[command(
        name = "add-ca",
        after_help = "Example:\n  airlock trust add-ca /etc/pki/model-signing-ca.pem --name ml-release-ca"
    )]
    AddCa {
        /// The CA certificate (PEM, basicConstraints CA:TRUE)
        pem: PathBuf,
        /// A name for the CA
        #[arg(long)]
        name: String,
    },
    /// The trusted keys
    #[command(after_help = "Examples:\n  airlock trust list\n  airlock --json trust list")]
    List,
    /// Stop trusting a key, everywhere, at once (the record is kept)
    #[command(after_help = "Example:\n  airlock trust revoke 114edcc3 --reason \"laptop lost\"")]
    Revoke {
        /// The key id (or a unique prefix of at least 8 hex)
        key_id: String,
        /// Why (recorded)
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
        /// Break-glass: change the trust of a registry that has a signed root (logged)
        #[arg(long)]
        local: bool,
    },
    /// Show or set how many distinct trusted approvals a version needs
    #[command(
        after_help = "Examples:\n  airlock trust policy --approvals 2\n  airlock trust policy --oms required"
    )]
    Policy {
        /// Distinct trusted approver signatures a bundle version needs (1 to 100)
        #[arg(long, value_name = "K")]
        approvals: Option<u32>,
        /// OpenSSF model signatures at import: verify (a signature present
        /// must verify; default), informative (failures only warn), required
        /// (a model without one is refused, exit 4)
        #[arg(long, value_enum, value_name = "MODE")]
        oms: Option<OmsPolicyArg>,
        /// Break-glass: change the policy of a registry that has a signed root (logged)
        #[arg(long)]
        local: bool,
    },
    /// The ceremony: install trust root version 1 (once)
    #[command(
        after_help = "Examples:\n  airlock trust init --root-key keys/carol.pub --root-key keys/dave.pub --threshold 2 --exporter keys/exporter.pub --approver keys/alice.pub --out root.json\n  airlock trust init --root root.json"
    )]
    Init(TrustInitArgs),
    /// The trust root: version, expiry, keys, thresholds, origins and their floors
    #[command(after_help = "Example:\n  airlock trust status")]
    Status,
    /// Apply the next trust root version (signed by the old and new root keys)
    #[command(after_help = "Example:\n  airlock trust update 2.root.json")]
    Update {
        /// The root file (`N.root.json` from `trust root edit` + `trust root sign`)
        file: PathBuf,
    },
    /// Prepare and sign trust root versions (on the connected side)
    #[command(subcommand)]
    #[command(
        after_help = "Examples:\n  airlock trust root edit --add-approver keys/bob.pub --out 2.root.json\n  airlock trust root sign 2.root.json --key keys/carol.key"
    )]
    Root(TrustRootCommand),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").args(["root_keys", "root"]).required(true)))]
pub(crate) struct TrustInitArgs {
    /// A root key (public key file); repeatable
    #[arg(long = "root-key", value_name = "PUBFILE")]
    pub(crate) root_keys: Vec<PathBuf>,
    /// Root signatures a new root version needs
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub(crate) threshold: u32,
    /// An exporter key, optionally with its origins: `PUBFILE[=ORIGIN,…]`; repeatable
    #[arg(long = "exporter", value_name = "PUBFILE[=ORIGINS]")]
    pub(crate) exporters: Vec<String>,
    /// Origins for exporters given without their own (`*`: any); repeatable
    #[arg(long = "origin", value_name = "NAME")]
    pub(crate) origins: Vec<String>,
    /// An approver key; repeatable
    #[arg(long = "approver", value_name = "PUBFILE")]
    pub(crate) approvers: Vec<PathBuf>,
    /// The approval policy [default: the current one]
    #[arg(long, value_name = "K")]
    pub(crate) approvals: Option<u32>,
    /// Days until the root expires
    #[arg(long, value_name = "DAYS", default_value_t = 365)]
    pub(crate) expires_in_days: u32,
    /// Also write the root to FILE, to install on the other side with `--root`
    #[arg(long, value_name = "FILE", conflicts_with = "root")]
    pub(crate) out: Option<PathBuf>,
    /// Install a version 1 made elsewhere instead (the other flags do not apply)
    #[arg(long, value_name = "FILE")]
    pub(crate) root: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TrustRootCommand {
    /// Write the next root version, unsigned, with changes
    #[command(
        after_help = "Example:\n  airlock trust root edit --add-approver keys/bob.pub --out 2.root.json"
    )]
    Edit(TrustRootEditArgs),
    /// Add a signature to a root file (a threshold of old and new root keys)
    #[command(after_help = "Example:\n  airlock trust root sign 2.root.json --key keys/carol.key")]
    Sign {
        /// The root file, signed in place
        file: PathBuf,
        /// The private key file
        #[arg(long, value_name = "KEYFILE")]
        key: PathBuf,
    },
}

#[derive(Debug, Args)]
pub(crate) struct TrustRootEditArgs {
    /// The root to change [default: this registry's]
    #[arg(long, value_name = "FILE")]
    pub(crate) from: Option<PathBuf>,
    /// Where to write the new version
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// Add a root key; repeatable
    #[arg(long = "add-root", value_name = "PUBFILE")]
    pub(crate) add_root: Vec<PathBuf>,
    /// Add an exporter key, optionally with its origins: `PUBFILE[=ORIGIN,…]`; repeatable
    #[arg(long = "add-exporter", value_name = "PUBFILE[=ORIGINS]")]
    pub(crate) add_exporter: Vec<String>,
    /// Origins for added exporters given without their own; repeatable
    #[arg(long = "origin", value_name = "NAME")]
    pub(crate) origins: Vec<String>,
    /// Add an approver key; repeatable
    #[arg(long = "add-approver", value_name = "PUBFILE")]
    pub(crate) add_approver: Vec<PathBuf>,
    /// Take a key out of every role (by id or prefix); repeatable
    #[arg(long, value_name = "KEYID")]
    pub(crate) remove: Vec<String>,
    /// Revoke a key for good (by id or prefix); repeatable
    #[arg(long, value_name = "KEYID")]
    pub(crate) revoke: Vec<String>,
    /// Why the revoked keys are revoked
    #[arg(long, value_name = "TEXT")]
    pub(crate) reason: Option<String>,
    /// Root signatures later versions need
    #[arg(long, value_name = "K")]
    pub(crate) root_threshold: Option<u32>,
    /// Exporter signatures a bundle needs
    #[arg(long, value_name = "K")]
    pub(crate) exporter_threshold: Option<u32>,
    /// The approval policy
    #[arg(long, value_name = "K")]
    pub(crate) approvals: Option<u32>,
    /// Days until the new version expires
    #[arg(long, value_name = "DAYS")]
    pub(crate) expires_in_days: Option<u32>,
}

#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// NAME[@VERSION]
    pub(crate) reference: String,
    /// An approver's private key file
    #[arg(long, value_name = "KEYFILE")]
    pub(crate) key: PathBuf,
    /// Why the version must not be used (recorded and carried)
    #[arg(long, value_name = "TEXT")]
    pub(crate) reason: String,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// A file, a folder, or a registered version (NAME[@VERSION])
    pub(crate) target: String,
}

#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// NAME[@VERSION]
    pub(crate) reference: String,
    /// The private key file (PKCS#8 PEM, mode 0600)
    #[arg(long, value_name = "KEYFILE")]
    pub(crate) key: PathBuf,
    /// An airlock approval, or an OpenSSF model signature written to --out
    #[arg(long, value_enum, default_value = "approval")]
    pub(crate) format: SignFormat,
    /// Where the OMS signature goes (a new file), with --format oms
    #[arg(long, value_name = "FILE", required_if_eq("format", "oms"))]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Versions to export (NAME[@VERSION])
    #[arg(required = true)]
    pub(crate) references: Vec<String>,
    /// The exporter's private key (bundles)
    #[arg(long, value_name = "KEYFILE", required_if_eq("format", "bundle"))]
    pub(crate) key: Option<PathBuf>,
    /// The bundle file (volumes are OUT.001, OUT.002, … with --volume-size),
    /// or the folder of an OCI image layout
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// What to write: a signed airlock bundle, or an OCI image layout of
    /// ModelPack artifacts (approvals travel in each version's statement)
    #[arg(long, value_enum, default_value = "bundle")]
    pub(crate) format: ExportFormat,
    /// Split into volumes of at most SIZE (e.g. 4G, 700MB, 25GB)
    #[arg(long, value_name = "SIZE")]
    pub(crate) volume_size: Option<String>,
    /// Days until the bundle expires
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub(crate) expires_in_days: u32,
    /// Leave out every blob the receiver holds, as its `airlock holdings`
    /// file lists them (a delta bundle; the receiver checks it holds them)
    #[arg(long, value_name = "FILE")]
    pub(crate) delta_against: Option<PathBuf>,
    /// Write only these volumes (e.g. 2,5) of the newest export of the
    /// same versions at the same --volume-size, again: same bundle id,
    /// sequence and expiry (for a volume lost or damaged on the way)
    #[arg(
        long,
        value_name = "N,M",
        value_delimiter = ',',
        requires = "volume_size"
    )]
    pub(crate) volumes: Option<Vec<u32>>,
}

#[derive(Debug, Args)]
pub(crate) struct HoldingsArgs {
    /// The file to write (JSON: blobs, versions, last sequence per origin)
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// Sign it with this key (a DSSE envelope; the connected side checks it
    /// against the keys it trusts, e.g. this registry's key added there
    /// with `trust add … --role host`)
    #[arg(long, value_name = "KEYFILE")]
    pub(crate) key: Option<PathBuf>,
}

/// Write the completion script for `shell`.
pub(crate) fn completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    use clap::CommandFactory;
    clap_complete::generate(shell, &mut Cli::command(), "airlock", out);
}

/// Write the man page (roff).
pub(crate) fn man(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    clap_mangen::Man::new(Cli::command()).render(out)
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell
    pub(crate) shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExportFormat {
    /// A signed `.airlock` bundle
    Bundle,
    /// An OCI image layout folder
    OciLayout,
}

/// How to reach an OCI registry.
#[derive(Debug, Args)]
pub(crate) struct RegistryArgs {
    /// Speak plain HTTP (a local registry without TLS)
    #[arg(long)]
    pub(crate) plain_http: bool,
    /// PEM certificates to trust besides the system roots (an enclave CA)
    #[arg(long, value_name = "CA.pem")]
    pub(crate) ca_file: Option<PathBuf>,
    /// The registry user [default: the Docker config's credentials, else anonymous]
    #[arg(long, requires = "password_stdin")]
    pub(crate) username: Option<String>,
    /// Read the password (or token) from stdin
    #[arg(long, requires = "username")]
    pub(crate) password_stdin: bool,
    /// Transfers at once
    #[arg(long, value_name = "N", default_value_t = 4)]
    pub(crate) jobs: usize,
}

#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// Versions to push (NAME[@VERSION]), then the destination
    /// oci://HOST[:PORT]/REPO[:TAG] (without a tag, each version goes under its label)
    #[arg(required = true, num_args = 2.., value_name = "REF… oci://HOST/REPO[:TAG]")]
    pub(crate) args: Vec<String>,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("permission").args(["allow_unsafe", "allow_downgrade"]).multiple(true)))]
pub(crate) struct PullArgs {
    /// oci://HOST[:PORT]/REPO[:TAG|@sha256:DIGEST]
    pub(crate) source: String,
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
    /// Let in files the safety policy refuses; needs --reason, recorded
    #[arg(long, requires = "reason")]
    pub(crate) allow_unsafe: bool,
    /// Accept a version older than the newest of its model here; needs --reason, logged
    #[arg(long, requires = "reason")]
    pub(crate) allow_downgrade: bool,
    /// Why (recorded; goes with --allow-unsafe or --allow-downgrade)
    #[arg(long, value_name = "TEXT", requires = "permission")]
    pub(crate) reason: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// The registry's name, carried in provenance records [default: host name]
    #[arg(long)]
    pub(crate) name: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum DisclosureArg {
    Full,
    Partial,
    None,
    Unknown,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("permission").args(["allow_unsafe", "allow_downgrade"]).multiple(true)))]
pub(crate) struct ImportArgs {
    /// A model folder (plain or any Hugging Face layout), one model file
    /// (`.gguf`, `.safetensors`), a Hugging Face hub cache root, or a bundle
    /// (`.airlock`, or the `.001` volume)
    pub(crate) dir: PathBuf,
    /// The model id, e.g. `mistralai/Mistral-7B-v0.3` [default: from a
    /// Hugging Face cache layout]
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Of a Hugging Face hub cache root, import only this repo (ORG/NAME)
    #[arg(long, value_name = "ORG/NAME")]
    pub(crate) repo: Option<String>,
    /// The version label [default: the upstream revision's first 12 hex, else v1, v2, …]
    #[arg(long = "version", value_name = "V")]
    pub(crate) version_label: Option<String>,
    /// Where the model came from
    #[arg(long, value_name = "URL")]
    pub(crate) source: Option<String>,
    /// The upstream revision (picks the snapshot of a cache repo folder)
    #[arg(long, value_name = "REV")]
    pub(crate) revision: Option<String>,
    /// Licence id as the hubs write it (e.g. `apache-2.0`, `llama3.1`)
    #[arg(long, value_name = "ID")]
    pub(crate) license: Option<String>,
    /// The licence's full text [default: LICENSE* in the folder]
    #[arg(long, value_name = "FILE")]
    pub(crate) license_file: Option<PathBuf>,
    /// What is known about the training data
    #[arg(long, value_enum, default_value = "unknown")]
    pub(crate) data_disclosure: DisclosureArg,
    /// Notes on the training data
    #[arg(long, value_name = "TEXT")]
    pub(crate) data_notes: Option<String>,
    /// Who answers for this model
    #[arg(long, value_name = "WHO")]
    pub(crate) owner: Option<String>,
    /// Hard-link files into the store instead of copying, where possible
    #[arg(long)]
    pub(crate) link: bool,
    /// An OpenSSF model signature kept outside the folder, checked against
    /// the files [default: `model.sig` in the folder, if there is one]
    #[arg(long, value_name = "FILE")]
    pub(crate) oms_signature: Option<PathBuf>,
    /// Let in files the safety policy refuses (dangerous pickles, unsafe
    /// templates); needs --reason, recorded with who
    #[arg(long, requires = "reason")]
    pub(crate) allow_unsafe: bool,
    /// Bundles: accept a version older than the newest of its model here;
    /// needs --reason, logged
    #[arg(long, requires = "reason")]
    pub(crate) allow_downgrade: bool,
    /// Why (recorded; goes with --allow-unsafe or --allow-downgrade)
    #[arg(long, value_name = "TEXT", requires = "permission")]
    pub(crate) reason: Option<String>,
    /// Bundles: judge expiry at this time (RFC 3339) instead of the clock; logged
    #[arg(long, value_name = "TIME")]
    pub(crate) now: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RefArgs {
    /// NAME[@VERSION]
    pub(crate) reference: String,
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The first version, NAME[@VERSION]
    pub(crate) from: String,
    /// The second version, NAME[@VERSION]
    pub(crate) to: String,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Versions to check (NAME[@VERSION]); with --path, exactly one
    pub(crate) references: Vec<String>,
    /// Check every version
    #[arg(long, conflicts_with = "path")]
    pub(crate) all: bool,
    /// Re-hash every byte, trusting no recorded stat
    #[arg(long)]
    pub(crate) deep: bool,
    /// Check this folder (a deployed copy, a download) against the version
    #[arg(long, value_name = "DIR")]
    pub(crate) path: Option<PathBuf>,
    /// With --path: write a signed report of what was found (for `audit ingest`)
    #[arg(long, requires_all = ["path", "key", "out"])]
    pub(crate) attest: bool,
    /// The host's private key (ed25519) that signs the report
    #[arg(long, value_name = "KEYFILE", requires = "attest")]
    pub(crate) key: Option<PathBuf>,
    /// Where the report is written
    #[arg(long, value_name = "REPORT", requires = "attest")]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum LayoutArg {
    Plain,
    Hf,
}

/// How a verified copy is laid out (shared by `checkout` and `deploy`).
#[derive(Debug, Args)]
pub(crate) struct CheckoutFlags {
    /// Hard-link from the store instead of copying (files stay read-only)
    #[arg(long)]
    pub(crate) link: bool,
    /// `hf` writes a Hugging Face cache repo folder for HF_HUB_OFFLINE loaders
    #[arg(long, value_enum, default_value = "plain")]
    pub(crate) layout: LayoutArg,
    /// Replace the contents of a non-empty destination
    #[arg(long)]
    pub(crate) force: bool,
    /// Lay out files the safety policy refuses; needs --reason
    #[arg(long, requires = "reason")]
    pub(crate) allow_unsafe: bool,
    /// Why unsafe files are allowed (recorded; needs --allow-unsafe)
    #[arg(long, value_name = "TEXT", requires = "allow_unsafe")]
    pub(crate) reason: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct CheckoutArgs {
    /// NAME[@VERSION]
    pub(crate) reference: String,
    /// Destination folder (new or empty)
    pub(crate) dir: PathBuf,
    #[command(flatten)]
    pub(crate) flags: CheckoutFlags,
}

#[derive(Debug, Args)]
pub(crate) struct GcArgs {
    /// Report what would be removed, remove nothing
    #[arg(long)]
    pub(crate) dry_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Where to put the demo registries and model [default: a temporary folder, removed afterwards]
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        // Subcommands are only fully built when they are parsed: build each.
        for sub in cmd.get_subcommands() {
            let name = sub.get_name().to_string();
            let err = cmd
                .clone()
                .try_get_matches_from(["airlock", name.as_str(), "--help"])
                .unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp, "{name}");
        }
    }

    /// Every command and subcommand, with its path (`trust add`).
    fn all(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
        for sub in cmd.get_subcommands() {
            let p = format!("{path} {}", sub.get_name()).trim().to_string();
            out.push((p.clone(), sub.clone()));
            all(sub, p, out);
        }
    }

    /// `--help` of every command against `tests/snapshots/help/<path>.txt`
    /// (`AIRLOCK_UPDATE_SNAPSHOTS=1` rewrites them after a deliberate
    /// change; review the diff).
    #[test]
    fn help_matches_the_snapshots() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/help");
        let update = std::env::var_os("AIRLOCK_UPDATE_SNAPSHOTS").is_some();
        let mut root = Cli::command().term_width(100);
        root.build();
        let mut cmds = vec![(String::from("airlock"), root.clone())];
        all(&root, String::new(), &mut cmds);
        let mut stale = Vec::new();
        for (path, mut cmd) in cmds {
            if path.split(' ').any(|p| p == "help") {
                continue;
            }
            let name = if path == "airlock" {
                path.clone()
            } else {
                format!("airlock {path}")
            };
            let text = cmd
                .clone()
                .bin_name(&name)
                .term_width(100)
                .render_long_help()
                .to_string();
            let _ = &mut cmd;
            let file = dir.join(format!("{}.txt", name.replace(' ', "_")));
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&file, &text).unwrap();
                continue;
            }
            match std::fs::read_to_string(&file) {
                Ok(want) if want == text => {}
                _ => stale.push(file.display().to_string()),
            }
        }
        assert!(
            stale.is_empty(),
            "help differs from its snapshot (rerun with AIRLOCK_UPDATE_SNAPSHOTS=1 after a deliberate change): {stale:#?}"
        );
    }

    #[test]
    fn every_argument_has_a_help_line() {
        let mut cmds = Vec::new();
        all(&Cli::command(), String::new(), &mut cmds);
        let mut missing = Vec::new();
        for (path, cmd) in &cmds {
            if cmd.get_about().is_none() {
                missing.push(format!("{path}: no about"));
            }
            for a in cmd.get_arguments() {
                if a.get_help().is_none() && !matches!(a.get_id().as_str(), "help" | "version") {
                    missing.push(format!("{path}: {}", a.get_id()));
                }
            }
        }
        assert!(missing.is_empty(), "without help: {missing:#?}");
        // Every command ends its help with examples.
        let without: Vec<&str> = cmds
            .iter()
            .filter(|(p, _)| !p.split(' ').any(|s| s == "help"))
            .filter(|(_, c)| {
                !c.get_after_help()
                    .is_some_and(|h| h.to_string().starts_with("Example"))
            })
            .map(|(p, _)| p.as_str())
            .collect();
        assert!(without.is_empty(), "without examples: {without:?}");
    }
}
