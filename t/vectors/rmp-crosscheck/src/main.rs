// Cross-check of t/vectors/make-attestation-v1.pl against the real rmp_serde:
// the V1 schema declared with the serde attributes dstack uses (field names,
// tag/content, skip_serializing_if; serde_bytes stands in for
// serde_human_bytes, both call serialize_bytes in a binary format), filled
// from the real SCALE V0 sample, encoded with rmp_serde::to_vec_named.
//   rmp-crosscheck ROOT [V2QUOTE]   prints the encoding as hex
//   rmp-crosscheck --decode FILE    decodes FILE with rmp_serde and re-encodes it (hex)
use serde::{Deserialize, Serialize};

fn is_v1(v: &u32) -> bool {
    *v == 1
}
fn v1() -> u32 {
    1
}

#[derive(Serialize, Deserialize)]
struct TdxEvent {
    imr: u32,
    event_type: u32,
    #[serde(with = "serde_bytes", default)]
    digest: Vec<u8>,
    event: String,
    #[serde(with = "serde_bytes")]
    event_payload: Vec<u8>,
    #[serde(default = "v1", skip_serializing_if = "is_v1")]
    version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    preimage: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct RuntimeEvent {
    event: String,
    #[serde(with = "serde_bytes")]
    payload: Vec<u8>,
    #[serde(default = "v1", skip_serializing_if = "is_v1")]
    version: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", content = "data")]
enum PlatformEvidence {
    #[serde(rename = "tdx")]
    Tdx { quote: Vec<u8>, event_log: Vec<TdxEvent> },
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", content = "data")]
enum StackEvidence {
    #[serde(rename = "dstack")]
    Dstack { report_data: Vec<u8>, runtime_events: Vec<RuntimeEvent>, config: String },
}

#[derive(Serialize, Deserialize)]
struct Attestation {
    version: u64,
    platform: PlatformEvidence,
    stack: StackEvidence,
}

struct Scale<'a>(&'a [u8], usize);
impl<'a> Scale<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let s = &self.0[self.1..self.1 + n];
        self.1 += n;
        s
    }
    fn compact(&mut self) -> usize {
        let b0 = self.take(1)[0] as usize;
        match b0 & 3 {
            0 => b0 >> 2,
            1 => (b0 | (self.take(1)[0] as usize) << 8) >> 2,
            2 => {
                let r = self.take(3);
                (b0 | (r[0] as usize) << 8 | (r[1] as usize) << 16 | (r[2] as usize) << 24) >> 2
            }
            _ => panic!("big compact"),
        }
    }
    fn bytes(&mut self) -> Vec<u8> {
        let n = self.compact();
        self.take(n).to_vec()
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().unwrap())
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args[1] == "--decode" {
        let raw = std::fs::read(&args[2]).unwrap();
        let a: Attestation = rmp_serde::from_slice(&raw).expect("rmp_serde decode");
        println!("{}", hex::encode(rmp_serde::to_vec_named(&a).unwrap()));
        return;
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("{}/testdata/dstack-tdx-lite-attestation.json", args[1])).unwrap())
            .unwrap();
    let raw = hex::decode(json["attestation"].as_str().unwrap()).unwrap();
    let mut s = Scale(&raw, 0);
    assert_eq!(s.take(2), &[0, 0]);
    let mut quote = s.bytes();
    let v2 = args.len() > 2;
    if v2 {
        quote = std::fs::read(&args[2]).unwrap();
    }
    let ver = if v2 { 2 } else { 1 };
    let mut event_log = Vec::new();
    for _ in 0..s.compact() {
        let imr = s.u32();
        let event_type = s.u32();
        let digest = s.bytes();
        let event = String::from_utf8(s.bytes()).unwrap();
        let event_payload = s.bytes();
        let version = if event_type == 0x08000001 { ver } else { 1 };
        event_log.push(TdxEvent { imr, event_type, digest, event, event_payload, version, preimage: None });
    }
    let mut runtime_events = Vec::new();
    for _ in 0..s.compact() {
        let event = String::from_utf8(s.bytes()).unwrap();
        runtime_events.push(RuntimeEvent { event, payload: s.bytes(), version: ver });
    }
    let report_data = s.take(64).to_vec();
    let config = String::from_utf8(s.bytes()).unwrap();
    assert_eq!(s.1, raw.len());
    let a = Attestation {
        version: 1,
        platform: PlatformEvidence::Tdx { quote, event_log },
        stack: StackEvidence::Dstack { report_data, runtime_events, config },
    };
    println!("{}", hex::encode(rmp_serde::to_vec_named(&a).unwrap()));
}
