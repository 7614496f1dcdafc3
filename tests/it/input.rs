//! Reading exports through the real binary: CSV edge cases (BOM, CRLF, delimiters, encodings,
//! quoted newlines, ragged rows, invalid bytes), JSONL, and file-level errors. Each bad row must
//! be reported on the physical line where it starts, and never stop the run.

use crate::support::cli::{err, errors, read_rejects, run_json, summary, TestDir, ML_CONFIG};
use crate::support::{stderr, stdout};
use serde_json::Value;

/// Runs `validate INPUT --json` with [`ML_CONFIG`]; returns the exit code, the JSON lines and
/// stderr.
fn validate_json(dir: &TestDir, input: &str, extra: &[&str]) -> (i32, Vec<Value>, String) {
    dir.write("usersync.toml", ML_CONFIG);
    let args: Vec<&str> = ["validate", input].iter().chain(extra).copied().collect();
    run_json(dir, &args)
}

usersync_test!(bom_crlf_and_quoted_fields_read_cleanly, |dir| {
    dir.write(
        "in.csv",
        "\u{feff}id,email,plan,sex,born\r\nE1,ana@example.com,premium,F,01/02/1980\r\nE2,\"b@example.com\",gold,M,\"03/04/1990\"\r\n",
    );
    let (code, lines, _) = validate_json(&dir, "in.csv", &["--rejects", "rejects.csv"]);
    assert_eq!(errors(&lines), [err(3, "status", "unmapped_value")]);
    assert_eq!(summary(&lines), (2, 1, 1));
    assert_eq!(code, 3);
    // The input's BOM is not part of the first column's name; no CR is left in the last field.
    assert!(dir.read("rejects.csv").starts_with("\u{feff}id,email,"));
    let rows = read_rejects(&dir);
    assert_eq!(
        rows[1][..5],
        ["E2", "b@example.com", "gold", "M", "03/04/1990"]
    );
});

usersync_test!(a_semicolon_delimiter_is_detected, |dir| {
    dir.write(
        "in.csv",
        "id;email;plan;sex;born\nE1;ana@example.com;premium;F;01/02/1980\nE2;\"b@example.com\";free;M;01/01/1990\nE3;c@example.com;gold;M;01/01/1990\n",
    );
    let (code, lines, _) = validate_json(&dir, "in.csv", &[]);
    assert_eq!(errors(&lines), [err(4, "status", "unmapped_value")]);
    assert_eq!(code, 3);
});

usersync_test!(
    an_excel_sep_line_sets_the_delimiter_and_lines_stay_physical,
    |dir| {
        // Excel's `sep=;` first line (after a BOM here): the header is line 2, the rows 3 and on.
        dir.write(
        "sep.csv",
        "\u{feff}sep=;\r\nid;email;plan;sex;born\r\nE1;a@example.com;free;M;01/01/1990\r\nE2;b@example.com;gold;M;01/01/1990\r\n",
    );
        let (code, lines, stderr) = validate_json(&dir, "sep.csv", &[]);
        assert_eq!(code, 3, "{stderr}");
        assert_eq!(errors(&lines), [err(4, "status", "unmapped_value")]);
        assert_eq!(summary(&lines), (2, 1, 1));
        // An explicit delimiter still wins; the sep line is still not the header.
        let (code, _, stderr) = validate_json(&dir, "sep.csv", &["--delimiter", ";"]);
        assert_eq!(code, 3, "{stderr}");
    }
);

usersync_test!(tab_pipe_and_explicit_delimiters, |dir| {
    dir.write(
        "tab.csv",
        "id\temail\tplan\tsex\tborn\nE1\ta@example.com\tfree\tM\t01/01/1990\n",
    );
    let (code, lines, _) = validate_json(&dir, "tab.csv", &[]);
    assert_eq!((code, summary(&lines)), (0, (1, 1, 0)));

    // A pipe file whose header also has commas inside quotes: the flag decides.
    dir.write(
        "pipe.csv",
        "id|email|plan|sex|born\nE1|a@example.com|free|M|01/01/1990\n",
    );
    let (code, _, _) = validate_json(&dir, "pipe.csv", &["--delimiter", "|"]);
    assert_eq!(code, 0);

    // A wrong explicit delimiter makes one column: the mapping does not fit (exit 2).
    let (code, _, stderr) = validate_json(&dir, "pipe.csv", &["--delimiter", ","]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("its columns are: id|email|plan|sex|born"),
        "{stderr}"
    );
});

usersync_test!(
    windows_1252_is_decoded_with_the_flag_and_named_without_it,
    |dir| {
        let mut file = b"id,name,email,plan,sex,born\n".to_vec();
        file.extend_from_slice(b"E1,Jos\xe9 N\xfa\xf1ez,jose@example.com,gold,M,01/01/1990\n");
        file.extend_from_slice(b"E2,Ana,ana@example.com,free,F,01/01/1990\n");
        dir.write("in.csv", &file);

        let (code, lines, _) = validate_json(
            &dir,
            "in.csv",
            &["--encoding", "windows-1252", "--rejects", "rejects.csv"],
        );
        assert_eq!(errors(&lines), [err(2, "status", "unmapped_value")]);
        assert_eq!(code, 3);
        assert_eq!(read_rejects(&dir)[1][1], "José Núñez");

        let (code, lines, _) = validate_json(&dir, "in.csv", &[]);
        assert_eq!(errors(&lines), [err(2, "_row", "invalid_encoding")]);
        let message = lines[0]["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("column `name`"), "{message}");
        assert!(message.contains("--encoding windows-1252"), "{message}");
        assert_eq!(summary(&lines), (2, 1, 1));
        assert_eq!(code, 3);
    }
);

usersync_test!(the_config_input_table_sets_encoding_and_delimiter, |dir| {
    dir.write(
        "in.csv",
        b"id;name;email;plan;sex;born\nE1;Jos\xe9;jose@example.com;free;M;01/01/1990\n",
    );
    let config = format!("[input]\nencoding = \"windows-1252\"\ndelimiter = \";\"\n{ML_CONFIG}");
    dir.write("custom.toml", config);
    let out = dir
        .usersync()
        .args(["validate", "in.csv", "-c", "custom.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
});

usersync_test!(quoted_newlines_keep_line_numbers_right, |dir| {
    dir.write(
        "in.csv",
        "id,name,email,plan,sex,born\n\
         E1,\"Ana\nMaría\",a@example.com,premium,F,01/01/1980\n\
         E2,\"Multi\n\nline, with \"\"quotes\"\"\",b@example.com,gold,M,01/01/1980\n\
         E3,Pepe,c@example.com,gold,M,01/01/1980\n",
    );
    let (code, lines, _) = validate_json(&dir, "in.csv", &["--rejects", "rejects.csv"]);
    assert_eq!(
        errors(&lines),
        [
            err(4, "status", "unmapped_value"),
            err(7, "status", "unmapped_value")
        ]
    );
    assert_eq!(code, 3);
    assert_eq!(read_rejects(&dir)[1][1], "Multi\n\nline, with \"quotes\"");
});

usersync_test!(ragged_rows_are_row_errors, |dir| {
    dir.write(
        "in.csv",
        "id,email,plan,sex,born\nE1,a@example.com,premium\nE2,b@example.com,premium,M,01/01/1980,extra\nE3,c@example.com,free,F,02/02/1990\n",
    );
    let (code, lines, _) = validate_json(&dir, "in.csv", &[]);
    assert_eq!(
        errors(&lines),
        [
            err(2, "_row", "wrong_field_count"),
            err(3, "_row", "wrong_field_count")
        ]
    );
    assert_eq!(
        lines[0]["errors"][0]["message"],
        "the row has 3 fields but the header has 5"
    );
    assert_eq!(summary(&lines), (3, 1, 2));
    assert_eq!(code, 3);
});

usersync_test!(invalid_utf8_is_a_row_error_not_a_crash, |dir| {
    dir.write(
        "in.csv",
        b"id,email,plan,sex,born\nE1,a@example.com,premium,M,01/01/1980\nE2,b\xff@example.com,premium,M,01/01/1980\nE3,c@example.com,premium,M,01/01/1980\n",
    );
    let (code, lines, _) = validate_json(&dir, "in.csv", &[]);
    assert_eq!(errors(&lines), [err(3, "_row", "invalid_encoding")]);
    let message = lines[0]["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("column `email`"), "{message}");
    assert_eq!(summary(&lines), (3, 2, 1));
    assert_eq!(code, 3);
});

usersync_test!(jsonl_lines_that_are_not_objects_are_row_errors, |dir| {
    dir.write(
        "in.jsonl",
        "{\"id\":\"E1\",\"plan\":\"premium\"}\n\n[1,2]\n{\"id\":\"E2\",\"plan\":\"free\",\"sex\":\"F\",\"extra\":{\"nested\":[1]}}\nnot json\n\"a string\"\n",
    );
    let (code, lines, _) = validate_json(&dir, "in.jsonl", &[]);
    assert_eq!(
        errors(&lines),
        [
            err(3, "_row", "not_an_object"),
            err(5, "_row", "invalid_json"),
            err(6, "_row", "not_an_object")
        ]
    );
    assert_eq!(summary(&lines), (5, 2, 3));
    assert_eq!(code, 3);
});

usersync_test!(the_format_flag_overrides_the_extension, |dir| {
    dir.write("export.dat", "{\"id\":\"E1\",\"plan\":\"free\"}\n");
    let (code, _, stderr) = validate_json(&dir, "export.dat", &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--format"), "{stderr}");
    let (code, lines, _) = validate_json(&dir, "export.dat", &["--format", "jsonl"]);
    assert_eq!((code, summary(&lines)), (0, (1, 1, 0)));
});

usersync_test!(file_level_problems_are_one_clear_fatal_error, |dir| {
    dir.write("empty.csv", "");
    let (code, _, stderr) = validate_json(&dir, "empty.csv", &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("empty.csv is empty"), "{stderr}");

    dir.write("dup.csv", "id,email,id\nE1,a,b\n");
    let (code, _, stderr) = validate_json(&dir, "dup.csv", &[]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("column `id` appears twice (columns 1 and 3)"),
        "{stderr}"
    );

    dir.write("blank.csv", "id,,plan\n");
    let (code, _, stderr) = validate_json(&dir, "blank.csv", &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("column 2 has no name"), "{stderr}");

    let (code, _, stderr) = validate_json(&dir, "missing.csv", &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot open missing.csv"), "{stderr}");
});

usersync_test!(a_header_only_file_has_no_rows, |dir| {
    dir.write("in.csv", "id,email,plan,sex,born\n");
    let (code, lines, _) = validate_json(&dir, "in.csv", &[]);
    assert_eq!((code, summary(&lines)), (0, (0, 0, 0)));
});

usersync_test!(
    a_mapped_column_missing_from_the_header_names_column_and_key,
    |dir| {
        dir.write("in.csv", "id,email,plan,sex\nE1,a@example.com,free,M\n");
        let (code, _, stderr) = validate_json(&dir, "in.csv", &[]);
        assert_eq!(code, 2);
        assert!(
        stderr.contains(
            "column `born` (from `targets.lawyers.fields.birthdate.column`) is not in the header of in.csv"
        ),
        "{stderr}"
    );
    }
);

/// `text` in UTF-16 LE (or BE) with its byte order mark, as Excel's "Unicode text" saves it.
fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut bytes = if big_endian {
        vec![0xfe, 0xff]
    } else {
        vec![0xff, 0xfe]
    };
    for unit in text.encode_utf16() {
        let pair = if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        };
        bytes.extend_from_slice(&pair);
    }
    bytes
}

usersync_test!(excel_unicode_text_is_read_without_flags, |dir| {
    // Excel's "Unicode text" save: UTF-16 LE with a BOM, tabs, CRLF, a `.txt` name.
    let text = "id\tname\temail\tplan\tsex\tborn\r\n\
                E1\tJosé Núñez\tjose@example.com\tgold\tM\t01/01/1990\r\n\
                E2\tAna\tana@example.com\tfree\tF\t02/02/1991\r\n";
    for (name, big_endian) in [("unicode.txt", false), ("unicode_be.txt", true)] {
        dir.write(name, utf16(text, big_endian));
        let (code, lines, stderr) = validate_json(&dir, name, &["--rejects", "rejects.csv"]);
        assert_eq!(code, 3, "{name}: {stderr}");
        assert_eq!(
            errors(&lines),
            [err(2, "status", "unmapped_value")],
            "{name}"
        );
        assert_eq!(summary(&lines), (2, 1, 1), "{name}");
        let rejects = read_rejects(&dir);
        assert_eq!(rejects[0][1], "name", "{name}");
        assert_eq!(
            rejects[1][..3],
            ["E1", "José Núñez", "jose@example.com"],
            "{name}"
        );
    }

    // Excel's `sep=` line and JSONL are read through the decoder too.
    dir.write(
        "sep.txt",
        utf16(&format!("sep=\t\r\n{text}").replace('\t', ";"), false),
    );
    let (code, lines, stderr) = validate_json(&dir, "sep.txt", &[]);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(errors(&lines), [err(3, "status", "unmapped_value")]);
    dir.write(
        "unicode.jsonl",
        utf16(
            "{\"id\":\"E1\",\"email\":\"zoë@example.com\",\"plan\":\"free\",\"sex\":\"F\",\"born\":\"01/01/1990\"}\n",
            false,
        ),
    );
    let (code, lines, stderr) = validate_json(&dir, "unicode.jsonl", &[]);
    assert_eq!((code, summary(&lines)), (0, (1, 1, 0)), "{stderr}");
});

usersync_test!(any_encoding_label_is_read_by_name, |dir| {
    // ISO-8859-15 (Latin-9) has the euro sign at 0xA4, where Latin-1 has `¤`.
    dir.write(
        "in.csv",
        b"id,note,email,plan,sex,born\nE1,Pago 50 \xa4 en \xa6,a@example.com,gold,M,01/01/1990\n",
    );
    let (code, lines, stderr) = validate_json(
        &dir,
        "in.csv",
        &["--encoding", "iso-8859-15", "--rejects", "rejects.csv"],
    );
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(errors(&lines), [err(2, "status", "unmapped_value")]);
    assert_eq!(read_rejects(&dir)[1][1], "Pago 50 € en Š");
    let (_, lines, _) = validate_json(&dir, "in.csv", &["--encoding", "ISO_8859-15"]);
    assert_eq!(errors(&lines), [err(2, "status", "unmapped_value")]);
    // Without the flag the bytes are not UTF-8: a row error, as before.
    let (_, lines, _) = validate_json(&dir, "in.csv", &[]);
    assert_eq!(errors(&lines), [err(2, "_row", "invalid_encoding")]);

    // A Shift_JIS byte pair that means nothing is a row error naming the encoding.
    dir.write(
        "sjis.csv",
        b"id,email,plan,sex,born\nE1,a@example.com,free,M,01/01/1990\nE2,\x81\x7f@example.com,free,M,01/01/1990\n",
    );
    let (_, lines, _) = validate_json(&dir, "sjis.csv", &["--encoding", "shift_jis"]);
    assert_eq!(errors(&lines), [err(3, "_row", "invalid_encoding")]);
    let message = lines[0]["errors"][0]["message"].as_str().unwrap();
    assert_eq!(
        message,
        "column `email` holds bytes that are not valid shift_jis"
    );
});

usersync_test!(an_unknown_encoding_label_is_one_clear_error, |dir| {
    dir.write("in.csv", "id,email,plan,sex,born\n");
    let (code, _, message) = validate_json(&dir, "in.csv", &["--encoding", "ebcdic"]);
    assert_eq!(code, 2);
    assert!(message.contains("unknown encoding `ebcdic`"), "{message}");
    dir.write(
        "custom.toml",
        format!("[input]\nencoding = \"klingon\"\n{ML_CONFIG}"),
    );
    let out = dir
        .usersync()
        .args(["validate", "in.csv", "-c", "custom.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = stderr(&out);
    assert!(stderr.contains("input.encoding"), "{stderr}");
    assert!(stderr.contains("unknown encoding `klingon`"), "{stderr}");
});
