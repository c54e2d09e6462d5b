#!/usr/bin/env python3
"""Independent counts over the real CloudTrail files, for src/tests/real_data.rs.

Uses Python's own JSON parser and restates the crate's documented rules, so the Rust
tests compare against numbers that did not come from the Rust code.

    python3 crates/cloudtrail/scripts/count_real.py [/work/shared/data/real-cloudtrail]
"""
import collections
import glob
import gzip
import json
import os
import re
import sys

TIME = re.compile(r'^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$')


def bad(r):
    """log.rs: what makes a record bad."""
    if not isinstance(r, dict):
        return 'not_an_object'
    for k, name in (('eventName', 'missing_event_name'),
                    ('eventSource', 'missing_event_source'),
                    ('eventTime', 'missing_event_time')):
        if not isinstance(r.get(k), str) or r.get(k) == '':
            return name
    return None if TIME.match(r['eventTime']) else 'bad_event_time'


def console(r):
    if str(r.get('sessionCredentialFromConsole')).lower() == 'true':
        return True
    ua = r.get('userAgent')
    if not isinstance(ua, str):
        return False
    first = re.split(r'[, \]]', ua.lstrip('['))[0]
    head = ua.lstrip('[').split(',')[0]
    return (first == 'console.amazonaws.com'
            or (first.startswith('console.') and first.endswith('.amazonaws.com'))
            or ('Console' in head and 'aws-internal' in ua))


def credential_class(r):
    """identity.rs: credential_class (no Bedrock API keys in these files)."""
    u = r.get('userIdentity') or {}
    k = u.get('accessKeyId') or u.get('accesKeyId') or u.get('accesskeyid') or ''
    if not isinstance(k, str) or not k:
        return 'none'
    if k.startswith('AKIA'):
        return 'long_term_key'
    if console(r):
        return 'console'
    if (k.startswith('ASIA') or u.get('sessionContext') is not None
            or u.get('sessioncontext') is not None
            or u.get('type') in ('AssumedRole', 'FederatedUser')):
        return 'session'
    return 'long_term_key'


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else '/work/shared/data/real-cloudtrail'
    good = []
    for f in sorted(glob.glob(os.path.join(root, '*', '*.gz'))):
        data = gzip.open(f).read().decode()
        if f.endswith('.jsonl.gz'):
            rs = [json.loads(l) for l in data.splitlines() if l.strip()]
        else:
            rs = json.loads(data)['Records']
        c = collections.Counter(bad(r) or 'ok' for r in rs)
        print(os.path.relpath(f, root), len(rs), dict(sorted(c.items())))
        good += [r for r in rs if bad(r) is None]
    print('good', len(good))
    print('no userIdentity', sum('userIdentity' not in r for r in good))
    print('bracketed userAgent', sum(str(r.get('userAgent', '')).startswith('[') for r in good))
    print('sourceIPAddress AWS Internal', sum(r.get('sourceIPAddress') == 'AWS Internal' for r in good))
    print('eventTime with a space', sum(' ' in r['eventTime'] for r in good))
    print('requestParameters absent or null',
          sum(r.get('requestParameters') is None for r in good),
          'empty', sum(r.get('requestParameters') == {} for r in good))
    print('eventVersions', sorted({r['eventVersion'] for r in good if 'eventVersion' in r}),
          'records with one', sum('eventVersion' in r for r in good))
    types = collections.Counter((r.get('userIdentity') or {}).get('type') for r in good)
    print('userIdentity.type', sorted(types.items(), key=str))
    typeless = [r for r in good if 'userIdentity' in r and not r['userIdentity'].get('type')]
    print('typeless identities with invokedBy only',
          sum(bool(r['userIdentity'].get('invokedBy')) and not r['userIdentity'].get('arn')
              for r in typeless))
    sso = [r for r in good if (r.get('userIdentity') or {}).get('type') == 'AssumedRole'
           and re.search(r'AWSReservedSSO_|aws-reserved/sso\.amazonaws\.com/', json.dumps(r['userIdentity']))]
    print('Identity Center sessions', len(sso))
    print('credential classes', sorted(collections.Counter(credential_class(r) for r in good).items()))


main()
