//! Workload of bench/thin.sh: generates records with a fixed-seed generator,
//! round-trips them through serde_json, scans the text with regexes, groups
//! with indexmap and hashes with sha2. The output is deterministic.
use clap::Parser;
use indexmap::IndexMap;
use regex::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Parser)]
#[command(about = "lto-engine ThinLTO benchmark workload")]
struct Args {
    /// Number of records to generate.
    #[arg(long, default_value_t = 20_000)]
    records: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Record {
    id: u64,
    name: String,
    email: String,
    tags: Vec<String>,
    score: f64,
    note: Option<String>,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const SYLLABLES: &[&str] = &["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "sha", "pel"];
const DOMAINS: &[&str] = &["example.com", "mail.test", "lto.dev", "bitcode.org"];
const TAGS: &[&str] = &["alpha", "beta", "gamma", "delta", "omega", "thin", "fat", "lld"];

fn generate(n: usize, seed: u64) -> Vec<Record> {
    let mut rng = Rng(seed | 1);
    (0..n as u64)
        .map(|id| {
            let len = 2 + rng.next() % 3;
            let name: String = (0..len).map(|_| rng.pick(SYLLABLES)).collect();
            let email = format!("{}.{}@{}", name, id, rng.pick(DOMAINS));
            let tags = (0..1 + rng.next() % 3).map(|_| rng.pick(TAGS).to_string()).collect();
            let score = (rng.next() % 100_000) as f64 / 1000.0;
            let note = (rng.next() % 4 == 0).then(|| format!("order #{} shipped {} items", rng.next() % 9999, rng.next() % 50));
            Record { id, name, email, tags, score, note }
        })
        .collect()
}

fn main() {
    let args = Args::parse();
    let records = generate(args.records, args.seed);

    let json = serde_json::to_string(&records).expect("serialize");
    let back: Vec<Record> = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, records, "serde_json round trip");
    let value: serde_json::Value = serde_json::from_str(&json).expect("parse value");
    let total_score: f64 = value.as_array().unwrap().iter().map(|r| r["score"].as_f64().unwrap()).sum();

    let email_re = Regex::new(r"([a-z]+)\.(\d+)@([a-z]+\.[a-z]+)").unwrap();
    let mut domains: IndexMap<String, usize> = IndexMap::new();
    let mut id_sum = 0u64;
    for caps in email_re.captures_iter(&json) {
        *domains.entry(caps[3].to_string()).or_default() += 1;
        id_sum += caps[2].parse::<u64>().unwrap();
    }
    let order_re = Regex::new(r"order #(\d+) shipped (\d+) items").unwrap();
    let shipped: u64 = order_re.captures_iter(&json).map(|c| c[2].parse::<u64>().unwrap()).sum();

    let mut tags: IndexMap<&str, usize> = IndexMap::new();
    for r in &records {
        for t in &r.tags {
            *tags.entry(t.as_str()).or_default() += 1;
        }
    }
    tags.sort_by(|a, av, b, bv| bv.cmp(av).then(a.cmp(b)));

    let digest = Sha256::digest(json.as_bytes());
    let summary = serde_json::json!({
        "records": records.len(),
        "json_bytes": json.len(),
        "total_score": format!("{total_score:.3}"),
        "email_id_sum": id_sum,
        "shipped": shipped,
        "domains": domains,
        "tags": tags,
        "sha256": digest.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    });
    println!("{}", serde_json::to_string_pretty(&summary).unwrap());
}
