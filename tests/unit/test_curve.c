/*
 * test_curve.c: CURVE key files, the authorized-keys directory and the
 * loopback test of protected mode (common/curve.c).
 *
 * Files are written to a fresh temporary directory, removed at the end.
 * Permission checks look at the mode bits, so they hold when run as root too.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "curve.h"
#include "hpt_test.h"

static char tmp[256];

static const char *path_in(const char *name)
{
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 512, "%s/%s", tmp, name);
    return p;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    ASSERT(f != NULL);
    fputs(text, f);
    fclose(f);
    ASSERT_OK(chmod(path, mode));
}

static void setup(void)
{
    if (tmp[0])
        return;
    snprintf(tmp, sizeof tmp, "/tmp/hpt-test-curve-XXXXXX");
    ASSERT(mkdtemp(tmp) != NULL);
    hpt_err err = {0};
    if (hpt_curve_supported(&err) < 0)
        HPT_TEST_SKIP(err.msg);
}

HPT_TEST(z85_reference_vector)
{
    setup();
    // RFC 32's example, padded to a key: 8 known bytes repeated 4 times.
    static const uint8_t hello[8] = {0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B};
    uint8_t key[HPT_CURVE_KEY_LEN], back[HPT_CURVE_KEY_LEN];
    for (int i = 0; i < 4; i++)
        memcpy(key + 8 * i, hello, 8);
    char z[HPT_CURVE_Z85_LEN + 1];
    hpt_curve_key_encode(key, z);
    ASSERT(strcmp(z, "HelloWorldHelloWorldHelloWorldHelloWorld") == 0);
    ASSERT_OK(hpt_curve_key_check(z, strlen(z), NULL));
    ASSERT_OK(hpt_curve_key_decode(z, back));
    ASSERT(memcmp(key, back, sizeof key) == 0);
}

HPT_TEST(key_check_errors)
{
    setup();
    hpt_err err = {0};
    const char *k39 = "HelloWorldHelloWorldHelloWorldHelloWorl";
    ASSERT_EQ(hpt_curve_key_check(k39, strlen(k39), &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "39 characters");
    const char *bad = "HelloWorldHelloWorld~elloWorldHelloWorld";
    ASSERT_EQ(strlen(bad), 40);
    ASSERT_EQ(hpt_curve_key_check(bad, strlen(bad), &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "character 21 ('~') is not Z85");
    // Alphabet characters whose 5-character group overflows 32 bits.
    const char *over = "####################################ello";
    ASSERT_EQ(hpt_curve_key_check(over, strlen(over), &err), -EINVAL);
}

HPT_TEST(generate_save_load)
{
    setup();
    hpt_err err = {0};
    hpt_curve_pair_t kp, sec;
    ASSERT_OK(hpt_curve_generate(&kp, &err));
    char pk[512], pp[512];
    ASSERT_OK(hpt_curve_save(path_in("alice"), &kp, false, pk, pp, sizeof pk, &err));
    struct stat st;
    ASSERT_OK(stat(pk, &st));
    ASSERT_EQ(st.st_mode & 0777, 0600);
    ASSERT_OK(stat(pp, &st));
    ASSERT_EQ(st.st_mode & 0777, 0644);
    ASSERT_OK(hpt_curve_load_secret(pk, &sec, &err));
    ASSERT(strcmp(sec.public_z85, kp.public_z85) == 0);
    ASSERT(strcmp(sec.secret_z85, kp.secret_z85) == 0);
    char pub[HPT_CURVE_Z85_LEN + 1];
    ASSERT_OK(hpt_curve_load_public(pp, pub, &err));
    ASSERT(strcmp(pub, kp.public_z85) == 0);

    // No overwrite without force; with force a new pair replaces both.
    hpt_curve_pair_t kp2;
    ASSERT_OK(hpt_curve_generate(&kp2, &err));
    ASSERT_EQ(hpt_curve_save(path_in("alice"), &kp2, false, NULL, NULL, 0, &err), -EEXIST);
    ASSERT_STR_CONTAINS(err.msg, "alice.key exists");
    ASSERT_OK(hpt_curve_load_secret(pk, &sec, &err));
    ASSERT(strcmp(sec.secret_z85, kp.secret_z85) == 0);
    ASSERT_OK(hpt_curve_save(path_in("alice"), &kp2, true, NULL, NULL, 0, &err));
    ASSERT_OK(hpt_curve_load_secret(pk, &sec, &err));
    ASSERT(strcmp(sec.secret_z85, kp2.secret_z85) == 0);
    hpt_curve_wipe(&sec);
    ASSERT(sec.secret_z85[0] == '\0');

    // Each file is refused where the other is expected.
    ASSERT_EQ(hpt_curve_load_secret(pp, &sec, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "no secret-key line");
    ASSERT_EQ(hpt_curve_load_public(pk, pub, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "holds a secret key");
}

HPT_TEST(secret_file_permissions)
{
    setup();
    hpt_err err = {0};
    hpt_curve_pair_t kp, sec;
    ASSERT_OK(hpt_curve_generate(&kp, &err));
    char pk[512];
    ASSERT_OK(hpt_curve_save(path_in("perm"), &kp, false, pk, NULL, sizeof pk, &err));
    static const mode_t bad[] = {0640, 0604, 0660, 0644, 0610};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ASSERT_OK(chmod(pk, bad[i]));
        ASSERT_EQ(hpt_curve_load_secret(pk, &sec, &err), -EPERM);
        ASSERT_STR_CONTAINS(err.msg, pk);
        ASSERT_STR_CONTAINS(err.msg, "chmod 600");
    }
    ASSERT_OK(chmod(pk, 0400));
    ASSERT_OK(hpt_curve_load_secret(pk, &sec, &err));
    // A public key file may be world-readable.
    write_file(path_in("open.pub"), kp.public_z85, 0644);
    char pub[HPT_CURVE_Z85_LEN + 1];
    ASSERT_OK(hpt_curve_load_public(path_in("open.pub"), pub, &err));
}

HPT_TEST(bad_key_files)
{
    setup();
    hpt_err err = {0};
    char pub[HPT_CURVE_Z85_LEN + 1];
    hpt_curve_pair_t sec;
    // Bad length, in a certificate and bare.
    write_file(path_in("short.pub"), "curve\n    public-key = \"HelloWorldHelloWorld\"\n", 0644);
    ASSERT_EQ(hpt_curve_load_public(path_in("short.pub"), pub, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "short.pub:2: public-key: 20 characters");
    write_file(path_in("bare39.pub"), "HelloWorldHelloWorldHelloWorldHelloWorl\n", 0644);
    ASSERT_EQ(hpt_curve_load_public(path_in("bare39.pub"), pub, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "bare39.pub:1: not a key (39 characters");
    // Bad characters.
    write_file(path_in("chars.pub"), "public-key = \"HelloWorldHelloWorld HelloWorldHelloWorl\"\n",
               0644);
    ASSERT_EQ(hpt_curve_load_public(path_in("chars.pub"), pub, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "is not Z85");
    // Empty, and two keys.
    write_file(path_in("empty.pub"), "# nothing\n\n", 0644);
    ASSERT_EQ(hpt_curve_load_public(path_in("empty.pub"), pub, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "no public key");
    write_file(path_in("two.pub"),
               "HelloWorldHelloWorldHelloWorldHelloWorld\n"
               "HelloWorldHelloWorldHelloWorldHelloWorld\n", 0644);
    ASSERT_EQ(hpt_curve_load_public(path_in("two.pub"), pub, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "a second public key");
    // A secret key whose public line belongs to another pair.
    hpt_curve_pair_t a, b;
    ASSERT_OK(hpt_curve_generate(&a, &err));
    ASSERT_OK(hpt_curve_generate(&b, &err));
    char text[512];
    snprintf(text, sizeof text, "curve\n public-key = \"%s\"\n secret-key = \"%s\"\n",
             b.public_z85, a.secret_z85);
    write_file(path_in("mixed.key"), text, 0600);
    ASSERT_EQ(hpt_curve_load_secret(path_in("mixed.key"), &sec, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "is not the public key of this file's secret-key");
    // A secret key alone derives its public key.
    snprintf(text, sizeof text, "secret-key = %s\n", a.secret_z85);
    write_file(path_in("only.key"), text, 0600);
    ASSERT_OK(hpt_curve_load_secret(path_in("only.key"), &sec, &err));
    ASSERT(strcmp(sec.public_z85, a.public_z85) == 0);
    // Missing file.
    ASSERT_EQ(hpt_curve_load_secret(path_in("nope.key"), &sec, &err), -ENOENT);
    ASSERT_STR_CONTAINS(err.msg, "nope.key");
    // Metadata entries of a CZMQ certificate are ignored.
    snprintf(text, sizeof text, "metadata\n    email = \"a@b\"\ncurve\n    public-key = \"%s\"\n",
             a.public_z85);
    write_file(path_in("meta.pub"), text, 0644);
    ASSERT_OK(hpt_curve_load_public(path_in("meta.pub"), pub, &err));
    ASSERT(strcmp(pub, a.public_z85) == 0);
}

HPT_TEST(public_arg)
{
    setup();
    hpt_err err = {0};
    char pub[HPT_CURVE_Z85_LEN + 1];
    ASSERT_OK(hpt_curve_public_arg("HelloWorldHelloWorldHelloWorldHelloWorld", "--server-key",
                                   pub, &err));
    ASSERT(strcmp(pub, "HelloWorldHelloWorldHelloWorldHelloWorld") == 0);
    ASSERT_EQ(hpt_curve_public_arg("HelloWorldHelloWorldHelloWorldHelloWorl", "--server-key",
                                   pub, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "--server-key: no file of that name, and not a key");
    ASSERT_EQ(hpt_curve_public_arg("/no/such/file.pub", "--server-key", pub, &err), -ENOENT);
    ASSERT_STR_CONTAINS(err.msg, "/no/such/file.pub");
    write_file(path_in("srv.pub"), "public-key = \"HelloWorldHelloWorldHelloWorldHelloWorld\"\n",
               0644);
    ASSERT_OK(hpt_curve_public_arg(path_in("srv.pub"), "--server-key", pub, &err));
}

static int skipped;

static void on_skip(const char *path, const char *why, void *ud)
{
    (void)ud;
    fprintf(stderr, "  skipped %s: %s\n", path, why);
    skipped++;
}

HPT_TEST(keyset)
{
    setup();
    hpt_err err = {0};
    char dir[512];
    snprintf(dir, sizeof dir, "%s/authorized", tmp);
    ASSERT_OK(mkdir(dir, 0700));
    hpt_curve_keyset_t *ks = NULL;
    ASSERT_OK(hpt_curve_keyset_load(&ks, dir, NULL, NULL, &err));
    ASSERT_EQ(hpt_curve_keyset_count(ks), 0);
    hpt_curve_keyset_destroy(&ks);
    ASSERT(ks == NULL);

    hpt_curve_pair_t a, b, c;
    ASSERT_OK(hpt_curve_generate(&a, &err));
    ASSERT_OK(hpt_curve_generate(&b, &err));
    ASSERT_OK(hpt_curve_generate(&c, &err));
    char p[600];
    snprintf(p, sizeof p, "%s/alice.pub", dir);
    write_file(p, a.public_z85, 0644);
    snprintf(p, sizeof p, "%s/bob", dir);
    write_file(p, b.public_z85, 0644);
    snprintf(p, sizeof p, "%s/bob-again", dir);  // the same key twice counts once
    write_file(p, b.public_z85, 0644);
    snprintf(p, sizeof p, "%s/.carol.pub", dir);  // hidden: skipped
    write_file(p, c.public_z85, 0644);
    snprintf(p, sizeof p, "%s/carol.pub~", dir);  // editor backup: skipped
    write_file(p, c.public_z85, 0644);
    snprintf(p, sizeof p, "%s/sub", dir);  // a directory: skipped
    ASSERT_OK(mkdir(p, 0700));
    ASSERT_OK(hpt_curve_keyset_load(&ks, dir, NULL, NULL, &err));
    ASSERT_EQ(hpt_curve_keyset_count(ks), 2);
    uint8_t k[HPT_CURVE_KEY_LEN];
    ASSERT_OK(hpt_curve_key_decode(a.public_z85, k));
    ASSERT(hpt_curve_keyset_find(ks, k) && strcmp(hpt_curve_keyset_find(ks, k), "alice.pub") == 0);
    ASSERT_OK(hpt_curve_key_decode(b.public_z85, k));
    ASSERT(hpt_curve_keyset_find(ks, k) && strcmp(hpt_curve_keyset_find(ks, k), "bob") == 0);
    ASSERT_OK(hpt_curve_key_decode(c.public_z85, k));
    ASSERT(hpt_curve_keyset_find(ks, k) == NULL);
    hpt_curve_keyset_destroy(&ks);

    // A bad file: strict loading fails naming it; lenient loading skips it.
    snprintf(p, sizeof p, "%s/broken.pub", dir);
    write_file(p, "not a key at all\n", 0644);
    ASSERT_EQ(hpt_curve_keyset_load(&ks, dir, NULL, NULL, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "broken.pub");
    ASSERT(ks == NULL);
    skipped = 0;
    ASSERT_OK(hpt_curve_keyset_load(&ks, dir, on_skip, NULL, &err));
    ASSERT_EQ(skipped, 1);
    ASSERT_EQ(hpt_curve_keyset_count(ks), 2);
    hpt_curve_keyset_destroy(&ks);

    snprintf(p, sizeof p, "%s/missing", tmp);
    ASSERT_EQ(hpt_curve_keyset_load(&ks, p, on_skip, NULL, &err), -ENOENT);
    ASSERT_STR_CONTAINS(err.msg, "missing");
}

HPT_TEST(keyset_roles)
{
    setup();
    hpt_err err = {0};
    char dir[512], p[700];
    snprintf(dir, sizeof dir, "%s/roles", tmp);
    ASSERT_OK(mkdir(dir, 0700));
    const char *subs[] = {"workers", "clients", "readers", "worker"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, subs[i]);
        ASSERT_OK(mkdir(p, 0700));
    }
    hpt_curve_pair_t flat, w, c, r, both, typo;
    hpt_curve_pair_t *all[] = {&flat, &w, &c, &r, &both, &typo};
    for (int i = 0; i < 6; i++)
        ASSERT_OK(hpt_curve_generate(all[i], &err));
    snprintf(p, sizeof p, "%s/old.pub", dir);           // the layout before roles
    write_file(p, flat.public_z85, 0644);
    snprintf(p, sizeof p, "%s/workers/w1.pub", dir);
    write_file(p, w.public_z85, 0644);
    // keygen --role writes a role line, which agrees with the directory.
    snprintf(p, sizeof p, "%s/clients/alice", dir);
    ASSERT_OK(hpt_curve_save_role(p, &c, HPT_CURVE_ROLE_CLIENT, false, NULL, NULL, 0, &err));
    snprintf(p, sizeof p, "%s/clients/alice.key", dir);  // a secret key where keys are listed
    ASSERT_OK(unlink(p));
    snprintf(p, sizeof p, "%s/readers/bob.pub", dir);
    write_file(p, r.public_z85, 0644);
    snprintf(p, sizeof p, "%s/workers/box.pub", dir);    // one key, two roles
    write_file(p, both.public_z85, 0644);
    snprintf(p, sizeof p, "%s/readers/box.pub", dir);
    write_file(p, both.public_z85, 0644);
    snprintf(p, sizeof p, "%s/worker/typo.pub", dir);     // not a role directory: ignored
    write_file(p, typo.public_z85, 0644);

    hpt_curve_keyset_t *ks = NULL;
    ASSERT_OK(hpt_curve_keyset_load(&ks, dir, NULL, NULL, &err));
    ASSERT_EQ(hpt_curve_keyset_count(ks), 5);
    uint8_t k[HPT_CURVE_KEY_LEN];
    const char *name = NULL;
    ASSERT_OK(hpt_curve_key_decode(flat.public_z85, k));
    ASSERT_EQ(hpt_curve_keyset_roles(ks, k, &name), HPT_CURVE_ROLE_WORKER);
    ASSERT(strcmp(name, "old.pub") == 0);
    ASSERT_OK(hpt_curve_key_decode(w.public_z85, k));
    ASSERT_EQ(hpt_curve_keyset_roles(ks, k, &name), HPT_CURVE_ROLE_WORKER);
    ASSERT(strcmp(name, "workers/w1.pub") == 0);
    ASSERT_OK(hpt_curve_key_decode(c.public_z85, k));
    ASSERT_EQ(hpt_curve_keyset_roles(ks, k, &name), HPT_CURVE_ROLE_CLIENT);
    ASSERT(strcmp(name, "clients/alice.pub") == 0);
    ASSERT_OK(hpt_curve_key_decode(r.public_z85, k));
    ASSERT_EQ(hpt_curve_keyset_roles(ks, k, NULL), HPT_CURVE_ROLE_READER);
    ASSERT_OK(hpt_curve_key_decode(both.public_z85, k));
    ASSERT_EQ(hpt_curve_keyset_roles(ks, k, NULL), HPT_CURVE_ROLE_WORKER | HPT_CURVE_ROLE_READER);
    ASSERT_OK(hpt_curve_key_decode(typo.public_z85, k));
    ASSERT_EQ(hpt_curve_keyset_roles(ks, k, &name), 0);
    ASSERT(name == NULL);
    hpt_curve_keyset_stats_t st;
    hpt_curve_keyset_stats(ks, &st);
    ASSERT_EQ(st.workers, 3);
    ASSERT_EQ(st.clients, 1);
    ASSERT_EQ(st.readers, 2);
    ASSERT_EQ(st.flat, 1);
    hpt_curve_keyset_destroy(&ks);

    // A role line that disagrees with the directory: refused, strict or not.
    snprintf(p, sizeof p, "%s/readers/mallory", dir);
    hpt_curve_pair_t m;
    ASSERT_OK(hpt_curve_generate(&m, &err));
    ASSERT_OK(hpt_curve_save_role(p, &m, HPT_CURVE_ROLE_CLIENT, false, NULL, NULL, 0, &err));
    snprintf(p, sizeof p, "%s/readers/mallory.key", dir);
    ASSERT_OK(unlink(p));
    ASSERT_EQ(hpt_curve_keyset_load(&ks, dir, NULL, NULL, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "mallory.pub");
    ASSERT_STR_CONTAINS(err.msg, "clients/");
    skipped = 0;
    ASSERT_OK(hpt_curve_keyset_load(&ks, dir, on_skip, NULL, &err));
    ASSERT_EQ(skipped, 1);
    ASSERT_OK(hpt_curve_key_decode(m.public_z85, k));
    ASSERT_EQ(hpt_curve_keyset_roles(ks, k, NULL), 0);
    hpt_curve_keyset_destroy(&ks);
    snprintf(p, sizeof p, "%s/readers/mallory.pub", dir);
    ASSERT_OK(unlink(p));
    // At the top level, a role line other than worker is refused too.
    snprintf(p, sizeof p, "%s/carol", dir);
    ASSERT_OK(hpt_curve_save_role(p, &m, HPT_CURVE_ROLE_CLIENT, false, NULL, NULL, 0, &err));
    snprintf(p, sizeof p, "%s/carol.key", dir);
    ASSERT_OK(unlink(p));
    ASSERT_EQ(hpt_curve_keyset_load(&ks, dir, NULL, NULL, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "carol.pub");
    snprintf(p, sizeof p, "%s/carol.pub", dir);
    ASSERT_OK(unlink(p));
    // ... and an unknown role name.
    snprintf(p, sizeof p, "%s/workers/x.pub", dir);
    char text[200];
    snprintf(text, sizeof text, "metadata\n    role = \"root\"\ncurve\n    public-key = \"%s\"\n",
             m.public_z85);
    write_file(p, text, 0644);
    char pub[HPT_CURVE_Z85_LEN + 1];
    unsigned role = 99;
    ASSERT_EQ(hpt_curve_load_public_role(p, pub, &role, &err), -EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "'root' is not a role");
    ASSERT_OK(unlink(p));
    ASSERT_OK(hpt_curve_keyset_load(&ks, dir, NULL, NULL, &err));
    hpt_curve_keyset_destroy(&ks);

    // Names.
    char buf[64];
    ASSERT(strcmp(hpt_curve_roles_str(HPT_CURVE_ROLE_ALL, buf, sizeof buf),
                  "worker+client+reader+admin") == 0);
    ASSERT_EQ(hpt_curve_role_parse("admin"), HPT_CURVE_ROLE_ADMIN);
    ASSERT(strcmp(hpt_curve_role_dir(HPT_CURVE_ROLE_ADMIN), "admins") == 0);
    ASSERT(strcmp(hpt_curve_roles_str(0, buf, sizeof buf), "none") == 0);
    ASSERT_EQ(hpt_curve_role_parse("reader"), HPT_CURVE_ROLE_READER);
    ASSERT_EQ(hpt_curve_role_parse("readers"), 0);
    ASSERT(strcmp(hpt_curve_role_dir(HPT_CURVE_ROLE_CLIENT), "clients") == 0);
}

HPT_TEST(endpoint_is_local)
{
    static const char *const local[] = {
        "tcp://127.0.0.1:7600", "tcp://127.1.2.3:*",  "tcp://[::1]:7600",
        "tcp://localhost:7600", "ipc:///tmp/hptune", "inproc://x",
    };
    static const char *const remote[] = {
        "tcp://0.0.0.0:7600",    "tcp://*:7600",          "tcp://192.168.1.2:7600",
        "tcp://eth0:7600",       "tcp://[::]:7600",       "tcp://128.0.0.1:7600",
        "tcp://127.0.0.1.5:7600", "tcp://127.0.0:7600",   "tcp://127.0.0.256:7600",
        "tcp://127.evil.com:7600", "ws://127.0.0.1:7600", "tcp://127.0.0.1",
        "tcp://localhost.example.com:7600", "pgm://127.0.0.1;239.1.1.1:5555", "",
    };
    for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
        if (!hpt_curve_endpoint_is_local(local[i]))
            HPT__FAIL("%s should be local", local[i]);
    for (size_t i = 0; i < sizeof remote / sizeof remote[0]; i++)
        if (hpt_curve_endpoint_is_local(remote[i]))
            HPT__FAIL("%s should not be local", remote[i]);
}

/* Runs last (tests run in definition order): remove the temporary files. */
static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

HPT_TEST(cleanup)
{
    if (tmp[0])
        rm_tree(tmp);
}

HPT_TEST_MAIN()
