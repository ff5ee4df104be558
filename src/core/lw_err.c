/* Error strings for the LW_E* codes of lw_err.h. */
#include "lw/lw_err.h"

const char *lw_strerror(int rc)
{
    switch (rc) {
    case LW_OK:
        return "ok";
    case LW_ENOMEM:
        return "out of memory";
    case LW_EINVAL:
        return "invalid argument or input";
    case LW_EIO:
        return "input/output error";
    case LW_ENOENT:
        return "no such file or key";
    case LW_ECORRUPT:
        return "corrupt data (checksum or structure mismatch)";
    case LW_EVERSION:
        return "unsupported file version";
    case LW_EFULL:
        return "limit reached";
    case LW_EAGAIN:
        return "try again";
    case LW_ERETRY:
        return "retry later";
    case LW_EDROP:
        return "dropped";
    case LW_ETOOBIG:
        return "over the size limit";
    case LW_ENOTSUP:
        return "not supported by this store backend";
    case LW_EFENCED:
        return "fenced: another instance owns the partition now";
    default:
        return "unknown error";
    }
}
