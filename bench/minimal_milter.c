/* minimal_milter.c - the floor any milter pays: a libmilter milter that
 * registers exactly the callbacks sesame-milter registers (see
 * milter/callbacks.cpp filter_description()) and accepts everything.
 *
 * Used by bench/milter_e2e.sh as the reference point for sesame-milter's
 * throughput in Postfix. Every callback returns SMFIS_CONTINUE, so Postfix
 * sends every stage (connect, MAIL, RCPT, each header, end of header, the
 * body chunks, end of message) and waits for each answer, exactly as it does
 * for sesame-milter; nothing is stored, allocated, logged or changed.
 *
 * Usage: minimal_milter unix:/path/to/socket
 * The socket is made group postfix, mode 0660 (as sesame-milter does).
 * SIGTERM, SIGINT or SIGHUP stop it (libmilter's own signal handling). */
#include <grp.h>
#include <libmilter/mfapi.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static sfsistat on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
    (void)ctx, (void)host, (void)addr;
    return SMFIS_CONTINUE;
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
    (void)ctx, (void)argv;
    return SMFIS_CONTINUE;
}

static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
{
    (void)ctx, (void)argv;
    return SMFIS_CONTINUE;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
    (void)ctx, (void)name, (void)value;
    return SMFIS_CONTINUE;
}

static sfsistat on_eoh(SMFICTX *ctx)
{
    (void)ctx;
    return SMFIS_CONTINUE;
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    (void)ctx, (void)chunk, (void)len;
    return SMFIS_CONTINUE;
}

static sfsistat on_eom(SMFICTX *ctx)
{
    (void)ctx;
    return SMFIS_CONTINUE; /* accept the message as it is */
}

static sfsistat on_abort(SMFICTX *ctx)
{
    (void)ctx;
    return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx)
{
    (void)ctx;
    return SMFIS_CONTINUE;
}

/* The same answer as sesame-milter: its actions, header values with their
 * leading blank, no other protocol change. */
static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2, unsigned long f3,
                             unsigned long *pf0, unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    (void)ctx, (void)f2, (void)f3;
    *pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_ADDRCPT | SMFIF_DELRCPT);
    *pf1 = f1 & SMFIP_HDR_LEADSPC;
    *pf2 = 0;
    *pf3 = 0;
    return SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
    "minimal",
    SMFI_VERSION,
    SMFIF_ADDHDRS | SMFIF_ADDRCPT | SMFIF_DELRCPT,
    on_connect,
    NULL, /* helo */
    on_envfrom,
    on_envrcpt,
    on_header,
    on_eoh,
    on_body,
    on_eom,
    on_abort,
    on_close,
    NULL, /* unknown */
    NULL, /* data */
    on_negotiate,
};

int main(int argc, char **argv)
{
    if (argc != 2 || (strncmp(argv[1], "unix:", 5) != 0 && strncmp(argv[1], "local:", 6) != 0)) {
        fprintf(stderr, "usage: minimal_milter unix:/path/to/socket\n");
        return 2;
    }
    const char *socket = argv[1];
    const char *path = strchr(socket, ':') + 1;
    if (smfi_register(desc) == MI_FAILURE) {
        fprintf(stderr, "minimal_milter: smfi_register failed\n");
        return 1;
    }
    if (smfi_setconn((char *)socket) == MI_FAILURE || smfi_opensocket(1) == MI_FAILURE) {
        fprintf(stderr, "minimal_milter: cannot open %s\n", socket);
        return 1;
    }
    /* Reachable by Postfix (group postfix) and nobody else. */
    const struct group *g = getgrnam("postfix");
    if (g && chown(path, (uid_t)-1, g->gr_gid) != 0) perror("minimal_milter: chown");
    if (chmod(path, 0660) != 0) perror("minimal_milter: chmod");
    smfi_settimeout(300);
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
