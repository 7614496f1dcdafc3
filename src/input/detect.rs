//! Guessing a CSV file's delimiter from its header line, for exports whose producer (a Spanish
//! Excel writes `;`, most tools `,`) nobody told us about.

/// The delimiters considered, in order of preference when counts tie.
const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];

/// The delimiter of a CSV whose file starts with `head`: the candidate among `,` `;` tab `|`
/// that occurs most often in the first line, outside double quotes. `,` when none occurs (a
/// one-column file).
pub fn detect_delimiter(head: &[u8]) -> u8 {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let mut counts = [0usize; CANDIDATES.len()];
    let mut in_quotes = false;
    for &b in head {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' | b'\r' if !in_quotes => break,
            _ if !in_quotes => {
                if let Some(i) = CANDIDATES.iter().position(|&c| c == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let mut best = 0;
    for i in 1..CANDIDATES.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    CANDIDATES[best]
}

#[cfg(test)]
mod tests {
    use super::detect_delimiter;

    #[test]
    fn picks_the_most_frequent_delimiter_of_the_first_line() {
        assert_eq!(detect_delimiter(b"a,b,c\n1;2;3;4;5\n"), b',');
        assert_eq!(detect_delimiter(b"\xef\xbb\xbfa;b;c\r\n1,2"), b';');
        assert_eq!(detect_delimiter(b"a\tb\tc"), b'\t');
        assert_eq!(detect_delimiter(b"a|b|c,d"), b'|');
    }

    #[test]
    fn ignores_delimiters_inside_quotes() {
        assert_eq!(detect_delimiter(b"\"a,b,c\";\"d,e\";f\n"), b';');
        // A quoted header name with a newline does not end the line.
        assert_eq!(detect_delimiter(b"\"a\nb\";c;d\n1,2,3,4,5,6"), b';');
    }

    #[test]
    fn falls_back_to_comma() {
        assert_eq!(detect_delimiter(b"email\n"), b',');
        assert_eq!(detect_delimiter(b""), b',');
        assert_eq!(detect_delimiter(b"a;b,c"), b',');
    }
}
