// originalDst(fd): the destination a connection had before an iptables REDIRECT (nat table)
// sent it to this process, read with getsockopt SO_ORIGINAL_DST (IPv4) or IP6T_SO_ORIGINAL_DST
// (IPv6). Returns { host, port }; throws an Error naming the errno when the kernel has none
// (ENOENT: the connection was not redirected; ENOPROTOOPT: no conntrack/nat here).
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter_ipv4.h>
#include <napi.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <string>

#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80  // linux/netfilter_ipv6/ip6_tables.h
#endif

namespace meshgate {
namespace engine {

Napi::Value OriginalDst(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "originalDst(fd): fd must be a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  sockaddr_storage local;
  socklen_t localLen = sizeof(local);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &localLen) != 0) {
    int e = errno;
    Napi::Error::New(env, std::string("getsockname: ") + strerror(e) + " (" + std::to_string(e) + ")").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  sockaddr_storage dst;
  socklen_t dstLen = sizeof(dst);
  memset(&dst, 0, sizeof(dst));
  int rv = local.ss_family == AF_INET6
               ? getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst, &dstLen)
               : getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &dstLen);
  if (rv != 0) {
    int e = errno;
    Napi::Error error = Napi::Error::New(env, std::string("SO_ORIGINAL_DST: ") + strerror(e));
    error.Set("errno", Napi::Number::New(env, e));
    error.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  char host[INET6_ADDRSTRLEN] = {0};
  int port = 0;
  if (dst.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&dst);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    port = ntohs(a->sin6_port);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&dst);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("host", host);
  out.Set("port", port);
  return out;
}

}  // namespace engine
}  // namespace meshgate
