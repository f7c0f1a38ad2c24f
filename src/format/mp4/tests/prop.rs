//! Property test: arbitrary tag sets and pictures survive synthesis + probe.

use super::*;
use crate::format::{self, PictureRef, Segment, SynthInput};
use proptest::prelude::*;

const KEYS: &[&str] = &[
    "title",
    "artist",
    "albumartist",
    "album",
    "date",
    "genre",
    "composer",
    "comment",
    "lyrics",
    "encoder",
    "copyright",
    "grouping",
    "description",
    "titlesort",
    "artistsort",
    "albumsort",
    "work",
    "musicbrainz_trackid",
    "musicbrainz_albumid",
    "label",
    "isrc",
    "replaygain_track_gain",
];

fn arb_tag() -> impl Strategy<Value = Tag> {
    let special = prop_oneof![
        (1u16..=65535).prop_map(|n| tag("tracknumber", &n.to_string())),
        (1u16..=65535).prop_map(|n| tag("tracktotal", &n.to_string())),
        (1u16..=65535).prop_map(|n| tag("discnumber", &n.to_string())),
        (1u16..=65535).prop_map(|n| tag("disctotal", &n.to_string())),
        any::<u16>().prop_map(|n| tag("bpm", &n.to_string())),
        (0u8..=1).prop_map(|n| tag("compilation", &n.to_string())),
    ];
    let known = (proptest::sample::select(KEYS), "\\PC{0,40}").prop_map(|(k, v)| tag(k, &v));
    let custom = ("[a-z][a-z _.]{0,15}", "[A-Za-z ]{0,20}").prop_filter_map(
        "key with a special mapping",
        |(k, v)| {
            let mapped = [
                "tracknumber",
                "tracktotal",
                "discnumber",
                "disctotal",
                "bpm",
            ]
            .contains(&k.as_str())
                || [
                    "compilation",
                    "gapless",
                    "showmovement",
                    "movementnumber",
                    "movementtotal",
                ]
                .contains(&k.as_str());
            (!mapped).then(|| tag(&k, &v))
        },
    );
    prop_oneof![special, known, custom]
}

fn grouped(tags: &[Tag]) -> std::collections::BTreeMap<String, Vec<TagValue>> {
    let mut m = std::collections::BTreeMap::<String, Vec<TagValue>>::new();
    for t in tags {
        m.entry(t.key.clone()).or_default().push(t.value.clone());
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn synthesis_round_trips_through_probe(
        tags in proptest::collection::vec(arb_tag(), 0..25),
        pics in proptest::collection::vec(
            (proptest::bool::ANY, proptest::collection::vec(any::<u8>(), 1..300)), 0..4),
        moov_first in proptest::bool::ANY,
    ) {
        // One value per pair/int key: the atom holds a single number.
        let mut seen = std::collections::HashSet::new();
        let tags: Vec<Tag> = tags.into_iter().filter(|t| {
            !["tracknumber", "tracktotal", "discnumber", "disctotal", "bpm", "compilation"]
                .contains(&t.key.as_str()) || seen.insert(t.key.clone())
        }).collect();
        let f = sample(&Spec { moov_first, ..Spec::default() });
        let p = probe_bytes(&f, "m4a").unwrap();
        let refs: Vec<PictureRef> = pics.iter().enumerate().map(|(i, (png, d))| {
            pic_ref(i as i64, if *png { "image/png" } else { "image/jpeg" }, d.len())
        }).collect();
        let arts: Vec<(i64, Vec<u8>)> =
            pics.iter().enumerate().map(|(i, (_, d))| (i as i64, d.clone())).collect();
        let input = SynthInput {
            container: p.container,
            audio_offset: p.audio_offset,
            audio_len: p.audio_len,
            structural: &p.structural,
            tags: &tags,
            pictures: &refs,
            art: &NoArt,
        };
        let segs = synthesize(&input).unwrap();
        prop_assert_eq!(
            format::served_len(&input).unwrap(),
            segs.iter().map(Segment::len).sum::<u64>()
        );
        let out = assemble(&segs, &f, &arts);
        let q = probe_bytes(&out, "m4a").unwrap();
        prop_assert_eq!(grouped(&q.tags), grouped(&tags));
        prop_assert_eq!(q.pictures.len(), pics.len());
        for (qp, (png, d)) in q.pictures.iter().zip(&pics) {
            prop_assert_eq!(&qp.data, d);
            prop_assert_eq!(&qp.mime, if *png { "image/png" } else { "image/jpeg" });
        }
        prop_assert_eq!(&out[q.audio_offset as usize..][..q.audio_len as usize], AUDIO);
        for o in all_offsets(&out) {
            prop_assert!(o >= q.audio_offset && o < q.audio_offset + q.audio_len);
        }
        let rel_in: Vec<u64> = all_offsets(&f).iter().map(|o| o - p.audio_offset).collect();
        let rel_out: Vec<u64> = all_offsets(&out).iter().map(|o| o - q.audio_offset).collect();
        prop_assert_eq!(rel_in, rel_out);
    }
}
