//! Mapping between canonical tag keys and ID3v2.4 frames, plus the ID3v2.2
//! frame-ID upgrade table and the ID3v1 genre list.

/// Plain text frames with a one-to-one canonical key. TRCK/TPOS (split into
/// number and total), COMM, USLT and TXXX are handled separately.
pub const TEXT_FRAMES: &[(&[u8; 4], &str)] = &[
    (b"TIT2", "title"),
    (b"TPE1", "artist"),
    (b"TPE2", "albumartist"),
    (b"TALB", "album"),
    (b"TDRC", "date"),
    (b"TDOR", "originaldate"),
    (b"TCON", "genre"),
    (b"TCOM", "composer"),
    (b"TPE3", "conductor"),
    (b"TPE4", "remixer"),
    (b"TEXT", "lyricist"),
    (b"TIT1", "grouping"),
    (b"TIT3", "subtitle"),
    (b"TSST", "discsubtitle"),
    (b"TBPM", "bpm"),
    (b"TKEY", "key"),
    (b"TMOO", "mood"),
    (b"TMED", "media"),
    (b"TLAN", "language"),
    (b"TSRC", "isrc"),
    (b"TPUB", "label"),
    (b"TCOP", "copyright"),
    (b"TENC", "encodedby"),
    (b"TSSE", "encoder"),
    (b"TCMP", "compilation"),
    (b"TSOP", "artistsort"),
    (b"TSOA", "albumsort"),
    (b"TSO2", "albumartistsort"),
    (b"TSOC", "composersort"),
    (b"TSOT", "titlesort"),
    (b"TOAL", "originalalbum"),
    (b"TOPE", "originalartist"),
];

/// Keys written to a frame of their own although they read back under
/// another key (aliases used by other containers).
pub const WRITE_ALIASES: &[(&str, &[u8; 4])] = &[("organization", b"TPUB")];

/// TXXX descriptions whose canonical key is not simply the lower-cased
/// description (the names MusicBrainz Picard writes).
pub const TXXX_NAMES: &[(&str, &str)] = &[
    ("MusicBrainz Album Id", "musicbrainz_albumid"),
    ("MusicBrainz Artist Id", "musicbrainz_artistid"),
    ("MusicBrainz Album Artist Id", "musicbrainz_albumartistid"),
    ("MusicBrainz Release Group Id", "musicbrainz_releasegroupid"),
    ("MusicBrainz Release Track Id", "musicbrainz_releasetrackid"),
    ("MusicBrainz Work Id", "musicbrainz_workid"),
    ("MusicBrainz Album Type", "releasetype"),
    ("MusicBrainz Album Status", "releasestatus"),
    ("MusicBrainz Album Release Country", "releasecountry"),
    ("Acoustid Id", "acoustid_id"),
    ("Acoustid Fingerprint", "acoustid_fingerprint"),
];

/// COMM descriptions that players match case-sensitively; keys are
/// lower-case, so the original spelling is restored from this list.
pub const COMM_NAMES: &[&str] = &[
    "iTunNORM",
    "iTunSMPB",
    "iTunPGAP",
    "iTunes_CDDB_IDs",
    "iTunes_CDDB_1",
    "iTunes_CDDB_TrackNumber",
];

/// Frames dropped while reading: ID3v2.3 frames with no ID3v2.4 meaning
/// (TYER/TDAT/TIME/TORY are folded into dates before this applies).
pub const DROPPED: &[&[u8; 4]] = &[b"RVAD", b"EQUA", b"TRDA", b"TSIZ", b"TDAT", b"TIME"];

pub fn key_for_text_frame(id: &[u8; 4]) -> Option<&'static str> {
    TEXT_FRAMES.iter().find(|(f, _)| *f == id).map(|(_, k)| *k)
}

pub fn text_frame_for_key(key: &str) -> Option<[u8; 4]> {
    TEXT_FRAMES
        .iter()
        .find(|(_, k)| *k == key)
        .map(|(f, _)| **f)
}

/// Canonical key for a TXXX description.
pub fn key_for_txxx(desc: &str) -> String {
    TXXX_NAMES
        .iter()
        .find(|(d, _)| *d == desc)
        .map(|(_, k)| (*k).to_owned())
        .unwrap_or_else(|| desc.to_ascii_lowercase())
}

/// TXXX description written for a key that has no frame of its own.
pub fn txxx_for_key(key: &str) -> &str {
    TXXX_NAMES
        .iter()
        .find(|(_, k)| *k == key)
        .map(|(d, _)| *d)
        .unwrap_or(key)
}

/// COMM/USLT description written for the lower-case part of a key.
pub fn comm_desc(lower: &str) -> &str {
    COMM_NAMES
        .iter()
        .find(|d| d.eq_ignore_ascii_case(lower))
        .copied()
        .unwrap_or(lower)
}

/// ID3v2.2 three-character frame IDs and their ID3v2.3/2.4 equivalents.
/// IDs not listed (CRM, LNK, ...) have no usable equivalent and are dropped.
const V22: &[(&[u8; 3], &[u8; 4])] = &[
    (b"BUF", b"RBUF"),
    (b"CNT", b"PCNT"),
    (b"COM", b"COMM"),
    (b"CRA", b"AENC"),
    (b"ETC", b"ETCO"),
    (b"EQU", b"EQUA"),
    (b"GEO", b"GEOB"),
    (b"IPL", b"IPLS"),
    (b"MCI", b"MCDI"),
    (b"MLL", b"MLLT"),
    (b"PIC", b"APIC"),
    (b"POP", b"POPM"),
    (b"REV", b"RVRB"),
    (b"RVA", b"RVAD"),
    (b"SLT", b"SYLT"),
    (b"STC", b"SYTC"),
    (b"TAL", b"TALB"),
    (b"TBP", b"TBPM"),
    (b"TCM", b"TCOM"),
    (b"TCO", b"TCON"),
    (b"TCP", b"TCMP"),
    (b"TCR", b"TCOP"),
    (b"TDA", b"TDAT"),
    (b"TDY", b"TDLY"),
    (b"TEN", b"TENC"),
    (b"TFT", b"TFLT"),
    (b"TIM", b"TIME"),
    (b"TKE", b"TKEY"),
    (b"TLA", b"TLAN"),
    (b"TLE", b"TLEN"),
    (b"TMT", b"TMED"),
    (b"TOA", b"TOPE"),
    (b"TOF", b"TOFN"),
    (b"TOL", b"TOLY"),
    (b"TOR", b"TORY"),
    (b"TOT", b"TOAL"),
    (b"TP1", b"TPE1"),
    (b"TP2", b"TPE2"),
    (b"TP3", b"TPE3"),
    (b"TP4", b"TPE4"),
    (b"TPA", b"TPOS"),
    (b"TPB", b"TPUB"),
    (b"TRC", b"TSRC"),
    (b"TRD", b"TRDA"),
    (b"TRK", b"TRCK"),
    (b"TS2", b"TSO2"),
    (b"TSA", b"TSOA"),
    (b"TSC", b"TSOC"),
    (b"TSI", b"TSIZ"),
    (b"TSP", b"TSOP"),
    (b"TSS", b"TSSE"),
    (b"TST", b"TSOT"),
    (b"TT1", b"TIT1"),
    (b"TT2", b"TIT2"),
    (b"TT3", b"TIT3"),
    (b"TXT", b"TEXT"),
    (b"TXX", b"TXXX"),
    (b"TYE", b"TYER"),
    (b"UFI", b"UFID"),
    (b"ULT", b"USLT"),
    (b"WAF", b"WOAF"),
    (b"WAR", b"WOAR"),
    (b"WAS", b"WOAS"),
    (b"WCM", b"WCOM"),
    (b"WCP", b"WCOP"),
    (b"WPB", b"WPUB"),
    (b"WXX", b"WXXX"),
];

pub fn upgrade_v22(id: &[u8]) -> Option<[u8; 4]> {
    V22.iter()
        .find(|(a, _)| a.as_slice() == id)
        .map(|(_, b)| **b)
}

/// The ID3v1 genre list (0-79) with the Winamp extensions (80-147).
pub const GENRES: &[&str] = &[
    "Blues",
    "Classic Rock",
    "Country",
    "Dance",
    "Disco",
    "Funk",
    "Grunge",
    "Hip-Hop",
    "Jazz",
    "Metal",
    "New Age",
    "Oldies",
    "Other",
    "Pop",
    "R&B",
    "Rap",
    "Reggae",
    "Rock",
    "Techno",
    "Industrial",
    "Alternative",
    "Ska",
    "Death Metal",
    "Pranks",
    "Soundtrack",
    "Euro-Techno",
    "Ambient",
    "Trip-Hop",
    "Vocal",
    "Jazz+Funk",
    "Fusion",
    "Trance",
    "Classical",
    "Instrumental",
    "Acid",
    "House",
    "Game",
    "Sound Clip",
    "Gospel",
    "Noise",
    "Alternative Rock",
    "Bass",
    "Soul",
    "Punk",
    "Space",
    "Meditative",
    "Instrumental Pop",
    "Instrumental Rock",
    "Ethnic",
    "Gothic",
    "Darkwave",
    "Techno-Industrial",
    "Electronic",
    "Pop-Folk",
    "Eurodance",
    "Dream",
    "Southern Rock",
    "Comedy",
    "Cult",
    "Gangsta",
    "Top 40",
    "Christian Rap",
    "Pop/Funk",
    "Jungle",
    "Native American",
    "Cabaret",
    "New Wave",
    "Psychedelic",
    "Rave",
    "Showtunes",
    "Trailer",
    "Lo-Fi",
    "Tribal",
    "Acid Punk",
    "Acid Jazz",
    "Polka",
    "Retro",
    "Musical",
    "Rock & Roll",
    "Hard Rock",
    "Folk",
    "Folk-Rock",
    "National Folk",
    "Swing",
    "Fast Fusion",
    "Bebop",
    "Latin",
    "Revival",
    "Celtic",
    "Bluegrass",
    "Avantgarde",
    "Gothic Rock",
    "Progressive Rock",
    "Psychedelic Rock",
    "Symphonic Rock",
    "Slow Rock",
    "Big Band",
    "Chorus",
    "Easy Listening",
    "Acoustic",
    "Humour",
    "Speech",
    "Chanson",
    "Opera",
    "Chamber Music",
    "Sonata",
    "Symphony",
    "Booty Bass",
    "Primus",
    "Porn Groove",
    "Satire",
    "Slow Jam",
    "Club",
    "Tango",
    "Samba",
    "Folklore",
    "Ballad",
    "Power Ballad",
    "Rhythmic Soul",
    "Freestyle",
    "Duet",
    "Punk Rock",
    "Drum Solo",
    "A Cappella",
    "Euro-House",
    "Dance Hall",
    "Goa",
    "Drum & Bass",
    "Club-House",
    "Hardcore",
    "Terror",
    "Indie",
    "BritPop",
    "Afro-Punk",
    "Polsk Punk",
    "Beat",
    "Christian Gangsta Rap",
    "Heavy Metal",
    "Black Metal",
    "Crossover",
    "Contemporary Christian",
    "Christian Rock",
    "Merengue",
    "Salsa",
    "Thrash Metal",
    "Anime",
    "JPop",
    "Synthpop",
];

/// Resolve one TCON value: `(17)`, `(17)Refinement`, `17`, `(RX)`, `CR`
/// become genre names; anything else is returned unchanged.
pub fn resolve_genre(v: &str) -> Vec<String> {
    let name = |code: &str| -> Option<String> {
        match code {
            "RX" => Some("Remix".into()),
            "CR" => Some("Cover".into()),
            _ if !code.is_empty()
                && code.len() <= 3
                && code.bytes().all(|b| b.is_ascii_digit()) =>
            {
                code.parse::<usize>()
                    .ok()
                    .and_then(|n| GENRES.get(n))
                    .map(|s| (*s).to_owned())
            }
            _ => None,
        }
    };
    if let Some(n) = name(v) {
        return vec![n];
    }
    let mut out = Vec::new();
    let mut rest = v;
    while let Some(inner) = rest.strip_prefix('(') {
        if inner.starts_with('(') {
            break; // "((" escapes a literal parenthesis: refinement text follows
        }
        let Some(close) = inner.find(')') else {
            break;
        };
        match name(&inner[..close]) {
            Some(n) => out.push(n),
            None => break,
        }
        rest = &inner[close + 1..];
    }
    if out.is_empty() {
        return vec![v.to_owned()];
    }
    let refinement = rest
        .strip_prefix('(')
        .map_or(rest, |r| if r.starts_with('(') { r } else { rest });
    if !refinement.is_empty() {
        // "(17)Rock-ish": the refinement text is the more precise name.
        out.pop();
        out.push(refinement.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genres() {
        assert_eq!(GENRES.len(), 148);
        assert_eq!(resolve_genre("(17)"), vec!["Rock"]);
        assert_eq!(resolve_genre("17"), vec!["Rock"]);
        assert_eq!(resolve_genre("(17)(8)"), vec!["Rock", "Jazz"]);
        assert_eq!(resolve_genre("(17)Rocky"), vec!["Rocky"]);
        assert_eq!(resolve_genre("(RX)"), vec!["Remix"]);
        assert_eq!(resolve_genre("Indie Folk"), vec!["Indie Folk"]);
        assert_eq!(resolve_genre("(999)"), vec!["(999)"]);
        assert_eq!(resolve_genre("((foo)"), vec!["((foo)"]);
        assert_eq!(resolve_genre("(1"), vec!["(1"]);
    }

    #[test]
    fn tables_are_consistent() {
        for (f, k) in TEXT_FRAMES {
            assert_eq!(text_frame_for_key(k), Some(**f));
            assert_eq!(key_for_text_frame(f), Some(*k));
        }
        for (d, k) in TXXX_NAMES {
            assert_eq!(key_for_txxx(d), *k);
            assert_eq!(txxx_for_key(k), *d);
        }
        assert_eq!(upgrade_v22(b"TT2"), Some(*b"TIT2"));
        assert_eq!(upgrade_v22(b"CRM"), None);
        assert_eq!(comm_desc("itunsmpb"), "iTunSMPB");
    }
}
